#pragma once

// The lifecycle runner as the configuration describes it: when delivery is wanted, the SMTP
// mailer from [smtp] and the templates from lifecycle.templates_dir (or the built-in ones);
// without delivery nothing is rendered, so neither is loaded. Used by sftpd's background sweep
// and by sftpctl.

#include <memory>

#include "sftpd/core/base/result.h"
#include "sftpd/core/config/config.h"
#include "sftpd/core/lifecycle/runner.h"
#include "sftpd/core/notify/mailer.h"

namespace sftplc::db {
class Database;
}

namespace sftplc::lifecycle {

// The runner keeps a pointer to the mailer: the two live and die together here.
struct ConfiguredRunner {
  std::unique_ptr<notify::Mailer> mailer;  // null without delivery
  std::unique_ptr<LifecycleRunner> runner;
};

// With `with_mailer`: kInvalidArgument for broken templates or SMTP settings, kNotFound for a
// templates_dir that does not exist. Without it, never an error. REQUIRES: db outlives the
// result.
Result<ConfiguredRunner> MakeConfiguredRunner(db::Database& db, const config::Config& cfg,
                                              bool with_mailer);

}  // namespace sftplc::lifecycle
