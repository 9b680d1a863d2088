#pragma once

// Notice templates: a subject line and a plain-text body with {placeholders}. Each kind is read
// from <lifecycle.templates_dir>/<kind>.txt when that file exists, else the built-in default is
// used. File format: the first line is "Subject: ...", then an empty line, then the body.
// "{{" and "}}" write literal braces. Unknown placeholders are refused at load, so a typo in a
// template stops sftpd at start-up rather than producing a broken notice years later.
// A loaded TemplateSet is immutable and thread-safe.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sftpd/core/base/result.h"

namespace sftplc::notify {

enum class NoticeKind {
  kInactivity,    // "inactivity_notice": please confirm, or the account closes
  kClosure,       // "closure_notice": closed for inactivity, data deleted by {purge_date}
  kFilesWaiting,  // "files_waiting": sftpctl files put --notify
};

// "inactivity_notice", "closure_notice", "files_waiting" (also the template file stem and the
// outbox kind column).
std::string_view NoticeKindName(NoticeKind k);
// kInvalidArgument for an unknown name.
Result<NoticeKind> ParseNoticeKind(std::string_view name);

// The placeholders a template may use (values are filled by the caller):
//   {name} {username} {company} {service} {reply_to} {last_activity} {deadline}
//   {purge_date} {file_count} {files} {account_id}
const std::vector<std::string>& KnownPlaceholders();

struct Template {
  std::string subject;
  std::string body;
};

struct RenderedNotice {
  std::string subject;
  std::string body;
};

class TemplateSet {
 public:
  // The built-in defaults only.
  static TemplateSet Defaults();
  // Defaults overridden by the files found in `dir` ("" = defaults only). kInvalidArgument
  // (naming the file) for a file without a "Subject:" line or with an unknown placeholder;
  // kNotFound if `dir` is set but does not exist.
  static Result<TemplateSet> Load(const std::string& dir);

  const Template& Get(NoticeKind kind) const;
  // Fills the placeholders; missing values render as "". kInvalidArgument for a placeholder
  // not in KnownPlaceholders() (only possible for templates built by hand).
  Result<RenderedNotice> Render(NoticeKind kind,
                                const std::map<std::string, std::string>& values) const;

 private:
  std::map<NoticeKind, Template> templates_;
};

// Substitutes {name} placeholders in `text`; exposed for tests.
Result<std::string> Substitute(std::string_view text,
                               const std::map<std::string, std::string>& values);

}  // namespace sftplc::notify
