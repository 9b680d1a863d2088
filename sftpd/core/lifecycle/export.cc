#include "sftpd/core/lifecycle/export.h"

#include <fmt/format.h>

#include "sftpd/core/accounts/account_store.h"
#include "sftpd/core/base/calendar.h"
#include "sftpd/core/base/name_text.h"
#include "sftpd/core/base/time_format.h"
#include "sftpd/core/db/audit_log.h"
#include "sftpd/core/files/storage_root.h"
#include "sftpd/core/lifecycle/account_rows.h"
#include "sftpd/core/lifecycle/contact_store.h"
#include "sftpd/core/lifecycle/notice_queue.h"
#include "sftpd/core/lifecycle/policy.h"
#include "sftpd/core/lifecycle/retention_sweep.h"
#include "sftpd/core/usage/usage_store.h"

namespace sftplc::lifecycle {
namespace {

using json = nlohmann::ordered_json;
using accounts::Account;
using accounts::AccountState;

json TimeOrNull(const std::optional<TimePoint>& t) {
  return t ? json(FormatTime(*t)) : json(nullptr);
}

json Category(const std::string& name, const std::string& description, const std::string& purpose,
              const std::string& legal_basis, const std::string& retention,
              const std::optional<TimePoint>& deadline, json data) {
  return json{{"category", name},
              {"description", description},
              {"purpose", purpose},
              {"legal_basis", legal_basis},
              {"recipients", json::array()},
              {"retention", retention},
              {"retention_deadline", TimeOrNull(deadline)},
              {"data", std::move(data)}};
}

json ConsentLedger(soci::session& s, const AccountId& id) {
  json out = json::array();
  for (const auto& e : accounts::AccountStore::LoadConsent(s, id)) {
    out.push_back({{"event", e.granted ? "granted" : "withdrawn"},
                   {"at", FormatTime(e.at)},
                   {"how", e.source},
                   {"recorded_by", e.actor}});
  }
  return out;
}

Result<json> UsageSessions(soci::session& s, const AccountId& id,
                           const config::LifecycleConfig& lc) {
  auto sessions = usage::UsageStore::AllSessions(s, id);
  if (!sessions) {
    return sessions.error();
  }
  json out = json::array();
  for (const usage::SessionRecord& u : *sessions) {
    json row = {{"started_at", FormatTime(u.started_at)},
                {"ended_at", TimeOrNull(u.ended_at)},
                {"remote_ip", u.remote_ip},
                {"remote_ip_deleted_by",
                 u.remote_ip.empty() ? json(nullptr)
                                     : json(FormatTime(AddressDeadline(u.started_at, lc)))}};
    PutName(row, "client", u.client_version);  // the client's SSH banner: any bytes
    // end_reason is NULL exactly while the session is open (UsageStore::Close sets it).
    row.update(json{{"auth_method", u.auth_method},
                    {"bytes_uploaded", u.counters.bytes_in},
                    {"bytes_downloaded", u.counters.bytes_out},
                    {"files_uploaded", u.counters.files_uploaded},
                    {"files_downloaded", u.counters.files_downloaded},
                    {"files_removed", u.counters.files_removed},
                    {"end_reason", u.end_reason.empty() ? json(nullptr) : json(u.end_reason)}});
    out.push_back(std::move(row));
  }
  return out;
}

json FailedLogins(soci::session& s, const AccountId& id, const config::LifecycleConfig& lc) {
  json out = json::array();
  for (const usage::FailedLogin& f : usage::UsageStore::AllFailedLogins(s, id)) {
    out.push_back({{"at", FormatTime(f.at)},
                   {"remote_ip", f.remote_ip},
                   {"auth_method", f.auth_method},
                   {"deleted_by", FormatTime(AddressDeadline(f.at, lc))}});
  }
  return out;
}

json Keys(soci::session& s, const AccountId& id) {
  json out = json::array();
  for (const auto& k : accounts::AccountStore::LoadKeys(s, id)) {
    out.push_back({{"type", k.key_type},
                   {"fingerprint", k.fingerprint},
                   {"comment", k.comment},
                   {"added_at", FormatTime(k.added_at)}});
  }
  return out;
}

// Each copy with the date it is deleted (section 9: mail_copy_retention after sending).
json Notices(soci::session& s, const AccountId& id, const Period& retention,
             std::optional<TimePoint>& latest) {
  json out = json::array();
  for (const Notice& n : NoticeQueue::OfAccount(s, id)) {
    auto deleted_by = NoticeQueue::CopyDeadline(n.state, n.created_at, n.sent_at, retention);
    if (deleted_by && (!latest || *deleted_by > *latest)) {
      latest = deleted_by;
    }
    out.push_back({{"kind", n.kind},
                   {"state", n.state},
                   {"queued_at", FormatTime(n.created_at)},
                   {"sent_at", TimeOrNull(n.sent_at)},
                   {"subject", n.subject},
                   {"copy_deleted_by", TimeOrNull(deleted_by)}});
  }
  return out;
}

}  // namespace

Result<json> ExportAccount(db::Database& db, const config::Config& cfg, const AccountId& id,
                           TimePoint now) {
  const db::Backend b = db.backend();
  const auto& lc = cfg.lifecycle;
  auto files = files::StorageRoot(cfg.storage.root).ListAccountFiles(id);
  return db.Read<json>([&](soci::session& s) -> Result<json> {
    json out;
    out["account_id"] = id.str();
    out["generated_at"] = FormatTime(now);
    out["recipients_note"] =
        "This data is not shared with other organisations; it is disclosed to no one.";
    auto acc = LoadAccount(s, b, id, false);
    json categories = json::array();
    if (acc) {
      if (!files) {
        // An export must be complete: better no copy than one that leaves files out.
        return Error(files.error().code(),
                     files.error().message() + "; the export would be incomplete");
      }
      const Account& a = *acc;
      std::optional<TimePoint> deadline = AccountRetentionDeadline(a, lc);
      std::string while_open = fmt::format(
          "while the account is open; {} without a login or transfer we ask you to confirm, "
          "and if you do not within {} of our notice the account is closed and this data "
          "deleted within {}",
          lc.inactivity_after.ToWords(), lc.confirmation_window.ToWords(),
          lc.purge_after_closure.ToWords());
      if (a.state == AccountState::kClosed) {
        while_open = fmt::format("the account is closed: deleted within {} of the closure",
                                 lc.purge_after_closure.ToWords());
      }
      out["status"] = StateText(a.state);
      categories.push_back(Category(
          "profile", "Your name, company, email address and telephone number, and your login name.",
          "To provide the secure FTP facility and to contact you about your account.", "contract",
          while_open, deadline,
          json{{"username", a.username},
               {"full_name", a.full_name},
               {"company", a.company},
               {"email", a.email},
               {"phone", a.phone},
               {"created_at", FormatTime(a.created_at)}}));
      categories.push_back(Category(
          "credentials",
          "How you log in: a one-way (Argon2id) hash of your password - the password itself is "
          "not stored - and your SSH public keys.",
          "To check that it is you when you log in.", "contract", while_open, deadline,
          json{{"password_set", !a.password_hash.empty()}, {"public_keys", Keys(s, id)}}));
      auto sessions = UsageSessions(s, id, lc);
      if (!sessions) {
        return sessions.error();
      }
      categories.push_back(
          Category("usage",
                   "Your sessions on the facility: when, from which address, with which "
                   "client, what was transferred; and failed login attempts.",
                   "To run and secure the facility and to tailor it to you (usage tracking).",
                   "contract", while_open, deadline,
                   json{{"ip_address_retention",
                         fmt::format("the address of a session is deleted {} after the session "
                                     "started (the session stays); a failed login {} after it",
                                     lc.ip_retention.ToWords(), lc.ip_retention.ToWords())},
                        {"sessions", *sessions},
                        {"failed_logins", FailedLogins(s, id, lc)}}));
      json file_list = json::array();
      for (const auto& f : *files) {
        if (f.is_dir) {
          continue;
        }
        json entry;
        PutName(entry, "path", f.path);
        entry["size"] = f.size;
        entry["modified"] = FormatTime(f.modified);
        entry["symlink"] = f.is_symlink;
        file_list.push_back(std::move(entry));
      }
      categories.push_back(
          Category("files", "The files in your account folder (exchanged between you and us).",
                   "To exchange files with you, which is what the facility is for.", "contract",
                   while_open, deadline, file_list));
      std::optional<TimePoint> last_copy;
      json notices = Notices(s, id, lc.mail_copy_retention, last_copy);
      categories.push_back(Category(
          "notices",
          "A copy of each email we sent you about your account (what it was about and when).",
          "To ask you to confirm an unused account and to tell you when it was closed.", "contract",
          fmt::format("each copy for {} after the email was sent, then deleted (see "
                      "copy_deleted_by); all of them sooner if the account is deleted",
                      lc.mail_copy_retention.ToWords()),
          last_copy ? last_copy : deadline, notices));
      NextAction next = NextAccountAction(a, lc);
      categories.push_back(
          Category("lifecycle", "The dates that decide what happens to your account next.",
                   "To keep the promise of our privacy notice: delete what is no longer needed.",
                   "legal obligation", while_open, deadline,
                   json{{"state", StateText(a.state)},
                        {"last_login_at", TimeOrNull(a.last_login_at)},
                        {"last_activity_at", TimeOrNull(a.last_activity_at)},
                        {"notice_queued_at", TimeOrNull(a.notice_queued_at)},
                        {"notice_delivered_at", TimeOrNull(a.notice_delivered_at)},
                        {"closed_at", TimeOrNull(a.closed_at)},
                        {"closed_reason",
                         a.closed_reason ? json(CloseReasonText(*a.closed_reason)) : json(nullptr)},
                        {"last_communication_at", TimeOrNull(a.last_communication_at)},
                        {"next_action", std::string(ActionName(next.action))},
                        {"next_action_due", TimeOrNull(next.due)}}));
      std::optional<TimePoint> consent_deadline;
      std::string consent_retention;
      if (a.marketing_consent) {
        TimePoint base = a.last_communication_at.value_or(LastActivity(a));
        consent_deadline = AddPeriod(base, lc.marketing_retention);
        consent_retention = fmt::format(
            "while you consent: {} after our last communication with you, or {} after you "
            "withdraw consent, whichever is first",
            lc.marketing_retention.ToWords(), lc.withdrawal_purge.ToWords());
      } else {
        consent_deadline = deadline;
        consent_retention = "with the account (no marketing consent stands)";
      }
      categories.push_back(Category(
          "marketing_consent",
          "Whether you agreed to receive marketing, and each time you granted or withdrew it.",
          "To contact you with marketing only while you agree, and to prove your choice.",
          "consent", consent_retention, consent_deadline,
          json{{"consent", a.marketing_consent},
               {"withdrawn_at", TimeOrNull(a.consent_withdrawn_at)},
               {"ledger", ConsentLedger(s, id)}}));
    } else {
      // Purged (or never existed): the marketing contact and the receipt, if any.
      std::optional<MarketingContact> contact = ContactStore::Load(s, b, id, false);
      std::optional<PurgeReceipt> receipt = ContactStore::LoadReceipt(s, id);
      bool has_contact = contact.has_value();
      bool has_receipt = receipt.has_value();
      if (!has_contact && !has_receipt) {
        return Error::NotFound("nothing is held for this account id");
      }
      out["status"] = "purged";
      if (has_receipt) {
        out["purge"] = {{"purged_at", FormatTime(receipt->purged_at)}, {"reason", receipt->reason}};
      }
      if (has_contact) {
        categories.push_back(Category(
            "marketing_contact",
            "Your name, company, email address and telephone number, kept after your account "
            "was deleted because you consented to marketing.",
            "To send you marketing you agreed to receive.", "consent",
            fmt::format("{} after our last communication with you, or {} after you withdraw "
                        "consent, whichever is first",
                        lc.marketing_retention.ToWords(), lc.withdrawal_purge.ToWords()),
            contact->delete_due,
            json{{"full_name", contact->full_name},
                 {"company", contact->company},
                 {"email", contact->email},
                 {"phone", contact->phone},
                 {"consent", contact->consent},
                 {"withdrawn_at", TimeOrNull(contact->consent_withdrawn_at)},
                 {"last_communication_at", FormatTime(contact->last_communication_at)},
                 {"ledger", ConsentLedger(s, id)}}));
      }
    }
    out["categories"] = std::move(categories);
    return out;
  });
}

Status RecordExport(db::Database& db, const AccountId& id, TimePoint now, const std::string& actor,
                    const std::string& detail) {
  auto r = db.Write<int>([&](soci::session& s) -> Result<int> {
    db::AuditLog::Append(s, now, actor, "account.export", id.str(), detail);
    return 0;
  });
  if (!r) {
    return r.error();
  }
  return {};
}

std::string ExportText(const json& e) {
  std::string out;
  out += fmt::format("Personal data held for account {}\nGenerated {}\nStatus: {}\n",
                     e.value("account_id", ""), e.value("generated_at", ""), e.value("status", ""));
  if (e.contains("purge")) {
    out += fmt::format("The account was deleted on {} (reason: {}).\n",
                       e["purge"].value("purged_at", ""), e["purge"].value("reason", ""));
  }
  out += e.value("recipients_note", "") + "\n";
  for (const auto& c : e["categories"]) {
    out += fmt::format("\n== {} ==\n", c.value("category", ""));
    out += "What it is:     " + c.value("description", "") + "\n";
    out += "Why we hold it: " + c.value("purpose", "") +
           " (legal basis: " + c.value("legal_basis", "") + ")\n";
    out += "Disclosed to:   no one\n";
    out += "Kept:           " + c.value("retention", "") + "\n";
    if (!c["retention_deadline"].is_null()) {
      // For an active account the date is the earliest the data can go (next inactivity notice
      // + window + purge): a login or transfer moves it later, so "at the latest" would be
      // wrong. A standing marketing consent has its own deadline, which is a latest date.
      bool consent_deadline =
          (c.value("category", "") == "marketing_consent" && c["data"].value("consent", false)) ||
          (c.value("category", "") == "notices" && !c["data"].empty());
      if (e.value("status", "") == "active" && !consent_deadline) {
        out += "Deleted:        not before " + c["retention_deadline"].get<std::string>() +
               " (each login or transfer moves this date later)\n";
      } else {
        out += "Deleted by:     " + c["retention_deadline"].get<std::string>() +
               " at the latest if nothing changes\n";
      }
    }
    out += "Data:\n";
    if (c.value("category", "") == "files") {
      // One line per file, the name in its escaped form: a name cannot start a line of its
      // own in the letter, whatever bytes it holds.
      for (const auto& f : c["data"]) {
        std::string name = f.contains("path_escaped") ? f["path_escaped"].get<std::string>()
                                                      : EscapeName(f.value("path", ""));
        out += fmt::format("  /{}  ({} bytes, modified {}{})\n", name, f.value("size", 0LL),
                           f.value("modified", ""), f.value("symlink", false) ? ", a link" : "");
      }
      if (c["data"].empty()) {
        out += "  (none)\n";
      }
      continue;
    }
    std::string dump = c["data"].dump(2, ' ', false, json::error_handler_t::replace);
    size_t pos = 0;
    while (pos < dump.size()) {
      size_t nl = dump.find('\n', pos);
      out += "  " + dump.substr(pos, nl == std::string::npos ? nl : nl - pos + 1);
      if (nl == std::string::npos) {
        out += "\n";
        break;
      }
      pos = nl + 1;
    }
  }
  return out;
}

}  // namespace sftplc::lifecycle
