#pragma once

// Shared by the lifecycle suites: a migrated database on SQLite or PostgreSQL, a storage root,
// an in-memory mailer and a runner, plus helpers that change accounts the way the account
// store and the server do (plain SQL here so the suites depend on the schema only).

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "sftpd/core/accounts/account.h"
#include "sftpd/core/config/config.h"
#include "sftpd/core/db/database.h"
#include "sftpd/core/lifecycle/runner.h"
#include "tests/core/db/test_database.h"
#include "tests/testing/memory_mailer.h"
#include "tests/testing/temp_dir.h"

namespace sftplc::testing {

struct LifecycleEnv {
  // Creates the database (nullptr when PostgreSQL is requested but not available).
  static std::unique_ptr<LifecycleEnv> Create(db::Backend backend, const std::string& prefix);

  std::unique_ptr<TestDatabase> test_db;
  std::unique_ptr<db::Database> db;
  TempDir storage;
  config::Config cfg;
  notify::MemoryMailer mailer;
  std::unique_ptr<lifecycle::LifecycleRunner> runner;

  // A new active account created at `created` (next_action_due NULL, as the store leaves it),
  // with a storage root holding one file, one public key and, with consent, a ledger row.
  AccountId AddAccount(TimePoint created, bool consent, const std::string& tag = "");
  // What sftpd does on a login: last_login_at = last_activity_at = t; pending -> active.
  void Login(const AccountId& id, TimePoint t);
  // A transfer: last_activity_at = t only.
  void Transfer(const AccountId& id, TimePoint t);
  // sftpctl account close: state closed, reason request.
  void Close(const AccountId& id, TimePoint t);
  // sftpctl account reopen.
  void Reopen(const AccountId& id, TimePoint t);
  // Consent withdrawn on an open or closed account (ledger row written).
  void WithdrawConsent(const AccountId& id, TimePoint t);
  void GrantConsent(const AccountId& id, TimePoint t);

  std::optional<accounts::Account> Get(const AccountId& id);
  long long Count(const std::string& sql_count_query);
  long long CountFor(const std::string& table, const AccountId& id);
};

// Runs a sweep and fails the test on error.
lifecycle::SweepReport Sweep(LifecycleEnv& env, TimePoint now);

}  // namespace sftplc::testing
