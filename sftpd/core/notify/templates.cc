#include "sftpd/core/notify/templates.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sftplc::notify {
namespace {

constexpr const char* kInactivitySubject = "Is your {service} account still needed?";
constexpr const char* kInactivityBody = R"(Dear {name},

Your account "{username}" on the {service} has not been used since {last_activity}.

We keep an account only while it is needed. If you still need it, please confirm
by {deadline}, in either of these ways:

  - log in to the {service} once (with your usual SFTP client), or
  - reply to this email ({reply_to}) and tell us that you still need the account.

If we do not hear from you by {deadline}, we will close the account. Once it is
closed, we delete its files and the personal data we hold for it (your name,
email address, telephone number, password and usage records) within a month.

If you no longer need the account, there is nothing to do.

Account reference: {account_id}
)";

constexpr const char* kClosureSubject = "Your {service} account has been closed";
constexpr const char* kClosureBody = R"(Dear {name},

We wrote to you about your account "{username}" on the {service} because it had
not been used since {last_activity}. We did not hear from you, so the account is
now closed and can no longer be used to log in.

Its files and the personal data we hold for it will be deleted by {purge_date}.
If you need the account after all, reply to this email ({reply_to}) before then
and we can reopen it.

Account reference: {account_id}
)";

constexpr const char* kFilesSubject = "New files for you on the {service}";
constexpr const char* kFilesBody = R"(Dear {name},

We have placed {file_count} new file(s) in your account "{username}" on the
{service}:

{files}

Log in with your usual SFTP client to download them. Questions? Reply to this
email ({reply_to}).

Account reference: {account_id}
)";

// Every "{...}" placeholder in `text` (without the "{{" escapes).
Result<std::vector<std::string>> Placeholders(std::string_view text) {
  std::vector<std::string> out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '{') {
      if (i + 1 < text.size() && text[i + 1] == '{') {
        ++i;
        continue;
      }
      size_t close = text.find('}', i);
      if (close == std::string_view::npos) {
        return Error::InvalidArgument("a '{' without its closing '}' (write '{{' for a brace)");
      }
      out.emplace_back(text.substr(i + 1, close - i - 1));
      i = close;
    } else if (text[i] == '}' && i + 1 < text.size() && text[i + 1] == '}') {
      ++i;
    }
  }
  return out;
}

Status CheckTemplate(const Template& t) {
  for (const std::string* s : {&t.subject, &t.body}) {
    auto names = Placeholders(*s);
    if (!names) {
      return names.error();
    }
    for (const auto& n : *names) {
      const auto& known = KnownPlaceholders();
      if (std::find(known.begin(), known.end(), n) == known.end()) {
        return Error::InvalidArgument(
            fmt::format("unknown placeholder {{{}}} (known: {})", n, fmt::join(known, ", ")));
      }
    }
  }
  return {};
}

}  // namespace

std::string_view NoticeKindName(NoticeKind k) {
  switch (k) {
    case NoticeKind::kInactivity:
      return "inactivity_notice";
    case NoticeKind::kClosure:
      return "closure_notice";
    case NoticeKind::kFilesWaiting:
      return "files_waiting";
  }
  return "";
}

Result<NoticeKind> ParseNoticeKind(std::string_view name) {
  for (NoticeKind k : {NoticeKind::kInactivity, NoticeKind::kClosure, NoticeKind::kFilesWaiting}) {
    if (NoticeKindName(k) == name) {
      return k;
    }
  }
  return Error::InvalidArgument(fmt::format("unknown notice kind '{}'", name));
}

const std::vector<std::string>& KnownPlaceholders() {
  static const std::vector<std::string> kNames = {
      "name",     "username",   "company", "service",    "reply_to",  "last_activity",
      "deadline", "purge_date", "files",   "file_count", "account_id"};
  return kNames;
}

Result<std::string> Substitute(std::string_view text,
                               const std::map<std::string, std::string>& values) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '{' && i + 1 < text.size() && text[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < text.size() && text[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      size_t close = text.find('}', i);
      if (close == std::string_view::npos) {
        return Error::InvalidArgument("a '{' without its closing '}'");
      }
      std::string name(text.substr(i + 1, close - i - 1));
      const auto& known = KnownPlaceholders();
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        return Error::InvalidArgument(fmt::format("unknown placeholder {{{}}}", name));
      }
      auto it = values.find(name);
      if (it != values.end()) {
        out += it->second;
      }
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

TemplateSet TemplateSet::Defaults() {
  TemplateSet set;
  set.templates_[NoticeKind::kInactivity] = {kInactivitySubject, kInactivityBody};
  set.templates_[NoticeKind::kClosure] = {kClosureSubject, kClosureBody};
  set.templates_[NoticeKind::kFilesWaiting] = {kFilesSubject, kFilesBody};
  return set;
}

Result<TemplateSet> TemplateSet::Load(const std::string& dir) {
  TemplateSet set = Defaults();
  if (dir.empty()) {
    return set;
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return Error::NotFound(fmt::format("lifecycle.templates_dir {} is not a folder", dir));
  }
  for (NoticeKind k : {NoticeKind::kInactivity, NoticeKind::kClosure, NoticeKind::kFilesWaiting}) {
    std::string path = fmt::format("{}/{}.txt", dir, NoticeKindName(k));
    if (!std::filesystem::exists(path, ec)) {
      continue;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return Error::Unavailable(fmt::format("cannot read template {}", path));
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    std::string first = text.substr(0, text.find('\n'));
    if (!first.empty() && first.back() == '\r') {
      first.pop_back();
    }
    if (first.rfind("Subject:", 0) != 0) {
      return Error::InvalidArgument(
          fmt::format("template {}: the first line must be 'Subject: ...'", path));
    }
    Template t;
    t.subject = first.substr(8);
    while (!t.subject.empty() && t.subject.front() == ' ') {
      t.subject.erase(0, 1);
    }
    size_t body_start = text.find('\n');
    t.body = body_start == std::string::npos ? "" : text.substr(body_start + 1);
    // The empty line after the subject separates it from the body.
    if (t.body.rfind("\r\n", 0) == 0) {
      t.body.erase(0, 2);
    } else if (t.body.rfind('\n', 0) == 0) {
      t.body.erase(0, 1);
    }
    Status st = CheckTemplate(t);
    if (!st) {
      return Error::InvalidArgument(fmt::format("template {}: {}", path, st.error().message()));
    }
    set.templates_[k] = std::move(t);
  }
  return set;
}

const Template& TemplateSet::Get(NoticeKind kind) const { return templates_.at(kind); }

Result<RenderedNotice> TemplateSet::Render(NoticeKind kind,
                                           const std::map<std::string, std::string>& values) const {
  const Template& t = Get(kind);
  // Values are single-line for the subject: a newline there would be a header injection.
  auto subject = Substitute(t.subject, values);
  if (!subject) {
    return subject.error();
  }
  for (char& c : *subject) {
    if (c == '\r' || c == '\n') {
      c = ' ';
    }
  }
  auto body = Substitute(t.body, values);
  if (!body) {
    return body.error();
  }
  return RenderedNotice{std::move(*subject), std::move(*body)};
}

}  // namespace sftplc::notify
