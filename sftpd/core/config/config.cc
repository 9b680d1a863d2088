// The toml11 adapter: the only file that calls toml11, so its exceptions stop here.

#include "sftpd/core/config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string_view>
#include <toml.hpp>

#include "sftpd/core/base/name_text.h"

namespace sftplc::config {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultConfigPath = "/etc/sftp-lifecycle/sftpd.toml";
constexpr std::uintmax_t kMaxConfigBytes = 1 << 20;
constexpr long long kDay = 86400;

// One problem found in the file, with the line it is on (0 when it concerns the whole file).
struct Problem {
  unsigned line = 0;
  std::string text;
};

// Collects problems while the file is read, so a run reports the earliest one (by line).
class Problems {
 public:
  explicit Problems(std::string file) : file_(std::move(file)) {}
  void Add(unsigned line, std::string text) { list_.push_back({line, std::move(text)}); }
  bool empty() const { return list_.empty(); }
  const std::string& file() const { return file_; }

  Error ToError() const {
    std::vector<Problem> sorted = list_;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Problem& a, const Problem& b) { return a.line < b.line; });
    const Problem& first = sorted.front();
    std::string msg = first.line > 0 ? fmt::format("{}:{}: {}", file_, first.line, first.text)
                                     : fmt::format("{}: {}", file_, first.text);
    if (sorted.size() > 1) {
      msg +=
          fmt::format(" (and {} more problem{})", sorted.size() - 1, sorted.size() == 2 ? "" : "s");
    }
    return Error::InvalidArgument(std::move(msg));
  }

 private:
  std::string file_;
  std::vector<Problem> list_;
};

std::string_view TypeName(const toml::value& v) {
  switch (v.type()) {
    case toml::value_t::empty:
      return "nothing";
    case toml::value_t::boolean:
      return "a boolean";
    case toml::value_t::integer:
      return "an integer";
    case toml::value_t::floating:
      return "a float";
    case toml::value_t::string:
      return "a string";
    case toml::value_t::offset_datetime:
    case toml::value_t::local_datetime:
    case toml::value_t::local_date:
    case toml::value_t::local_time:
      return "a date/time";
    case toml::value_t::array:
      return "an array";
    case toml::value_t::table:
      return "a table";
  }
  return "an unknown type";
}

unsigned LineOf(const toml::value& v) { return v.location().line(); }

// A table of the file being read: typed getters that record which keys were read, report wrong
// types and bad values with the key's full name and line, and at the end every key no getter
// asked for (an unknown key).
class Section {
 public:
  Section(const toml::value* table, std::string prefix, Problems& problems)
      : table_(table), prefix_(std::move(prefix)), problems_(problems) {}
  Section(const Section&) = delete;
  Section& operator=(const Section&) = delete;
  ~Section() { ReportUnknown(); }

  std::string Name(std::string_view key) const {
    return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
  }

  // The value under `key`, or nullptr when absent. Marks the key as known.
  const toml::value* Find(std::string_view key) {
    known_.insert(std::string(key));
    if (table_ == nullptr) {
      return nullptr;
    }
    const auto& t = table_->as_table();
    auto it = t.find(std::string(key));
    return it == t.end() ? nullptr : &it->second;
  }

  void Bad(const toml::value& v, std::string_view key, const std::string& why) {
    problems_.Add(LineOf(v), fmt::format("{}: {}", Name(key), why));
  }

  bool TypeCheck(const toml::value& v, std::string_view key, toml::value_t want,
                 std::string_view want_name) {
    if (v.type() == want) {
      return true;
    }
    Bad(v, key, fmt::format("expected {}, found {}", want_name, TypeName(v)));
    return false;
  }

  void String(std::string_view key, std::string& out) {
    const toml::value* v = Find(key);
    if (v != nullptr && TypeCheck(*v, key, toml::value_t::string, "a string")) {
      out = v->as_string().str;
    }
  }

  void Bool(std::string_view key, bool& out) {
    const toml::value* v = Find(key);
    if (v != nullptr && TypeCheck(*v, key, toml::value_t::boolean, "a boolean (true or false)")) {
      out = v->as_boolean();
    }
  }

  template <typename Int>
  void Integer(std::string_view key, Int& out, long long min, long long max) {
    const toml::value* v = Find(key);
    if (v == nullptr || !TypeCheck(*v, key, toml::value_t::integer, "an integer")) {
      return;
    }
    long long n = v->as_integer();
    if (n < min || n > max) {
      Bad(*v, key, fmt::format("must be between {} and {}, got {}", min, max, n));
      return;
    }
    out = static_cast<Int>(n);
  }

  void StringList(std::string_view key, std::vector<std::string>& out) {
    const toml::value* v = Find(key);
    if (v == nullptr || !TypeCheck(*v, key, toml::value_t::array, "an array of strings")) {
      return;
    }
    std::vector<std::string> list;
    for (const auto& item : v->as_array()) {
      if (!item.is_string()) {
        Bad(item, key, fmt::format("expected an array of strings, found {} in it", TypeName(item)));
        return;
      }
      list.push_back(item.as_string().str);
    }
    out = std::move(list);
  }

  // A duration written as a string ("30s", "15min", "1h", "2d") or as whole seconds (30).
  // Calendar units (m, y) are refused here: these durations are fixed lengths.
  void Duration(std::string_view key, Seconds& out, Seconds min, Seconds max) {
    const toml::value* v = Find(key);
    if (v == nullptr) {
      return;
    }
    Seconds s{0};
    if (v->is_integer()) {
      s = Seconds(v->as_integer());
    } else if (v->is_string()) {
      auto p = Period::Parse(v->as_string().str);
      if (!p) {
        Bad(*v, key, p.error().message());
        return;
      }
      if (p->unit == Period::Unit::kMonths || p->unit == Period::Unit::kYears) {
        Bad(*v, key,
            fmt::format("'{}' is a calendar period; use s, min, h or d here", v->as_string().str));
        return;
      }
      s = p->MaxSeconds();
    } else {
      Bad(*v, key,
          fmt::format("expected a duration such as \"30s\" or \"15min\", found {}", TypeName(*v)));
      return;
    }
    if (s < min || s > max) {
      Bad(*v, key,
          fmt::format("must be between {}s and {}s, got {}s", min.count(), max.count(), s.count()));
      return;
    }
    out = s;
  }

  // A calendar period ("30d", "1m", "2y", "1h") read with Period::Parse. Returns the value's
  // line when the key is present (for later cross-checks), else 0.
  unsigned PeriodValue(std::string_view key, Period& out) {
    const toml::value* v = Find(key);
    if (v == nullptr || !TypeCheck(*v, key, toml::value_t::string,
                                   "a duration string such as \"30d\", \"1m\" or \"2y\"")) {
      return 0;
    }
    auto p = Period::Parse(v->as_string().str);
    if (!p) {
      Bad(*v, key, p.error().message());
      return 0;
    }
    out = *p;
    return LineOf(*v);
  }

  // A sub-table; a missing one reads as empty (every key takes its default).
  std::unique_ptr<Section> Table(std::string_view key) {
    const toml::value* v = Find(key);
    if (v != nullptr && !TypeCheck(*v, key, toml::value_t::table, "a table")) {
      v = nullptr;
    }
    return std::make_unique<Section>(v, Name(key), problems_);
  }

  void ReportUnknown() {
    if (table_ == nullptr) {
      return;
    }
    for (const auto& [key, value] : table_->as_table()) {
      if (known_.count(key) == 0) {
        problems_.Add(LineOf(value), fmt::format("unknown key '{}'", Name(key)));
      }
    }
  }

 private:
  const toml::value* table_;
  std::string prefix_;
  Problems& problems_;
  std::set<std::string> known_;
};

// Absolute, normalised; relative paths are taken from `base`.
std::string ResolvePath(const std::string& base, const std::string& path) {
  if (path.empty()) {
    return path;
  }
  fs::path p(path);
  if (p.is_relative()) {
    p = fs::path(base) / p;
  }
  return p.lexically_normal().string();
}

Result<ListenAddress> ParseListen(const std::string& text) {
  auto bad = [&](std::string_view why) {
    return Error::InvalidArgument(fmt::format(
        "'{}' is not a listen address ({}): write \"host:port\" or \"[v6 address]:port\"", text,
        why));
  };
  std::string host;
  std::string port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("missing \"]:port\"");
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
    in6_addr a6{};
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1) {
      return bad("not an IPv6 address inside the brackets");
    }
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) {
      return bad("missing \":port\"");
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return bad("an IPv6 address must be written in brackets");
    }
    in_addr a4{};
    if (inet_pton(AF_INET, host.c_str(), &a4) != 1) {
      return bad("not an IPv4 address");
    }
  }
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return bad("the port must be a number from 0 to 65535");
  }
  long port = std::strtol(port_text.c_str(), nullptr, 10);
  if (port > 65535) {
    return bad("the port must be a number from 0 to 65535");
  }
  return ListenAddress{host, static_cast<uint16_t>(port)};
}

// The algorithm names libssh 0.10 knows, so a typo is reported with its line here instead of as
// a failed key exchange later.
const std::set<std::string>& KnownAlgorithms(std::string_view list) {
  static const std::set<std::string> kex = {"curve25519-sha256",
                                            "curve25519-sha256@libssh.org",
                                            "ecdh-sha2-nistp256",
                                            "ecdh-sha2-nistp384",
                                            "ecdh-sha2-nistp521",
                                            "diffie-hellman-group18-sha512",
                                            "diffie-hellman-group16-sha512",
                                            "diffie-hellman-group14-sha256",
                                            "diffie-hellman-group-exchange-sha256",
                                            "diffie-hellman-group14-sha1",
                                            "diffie-hellman-group-exchange-sha1",
                                            "diffie-hellman-group1-sha1"};
  static const std::set<std::string> ciphers = {"chacha20-poly1305@openssh.com",
                                                "aes256-gcm@openssh.com",
                                                "aes128-gcm@openssh.com",
                                                "aes256-ctr",
                                                "aes192-ctr",
                                                "aes128-ctr",
                                                "aes256-cbc",
                                                "aes192-cbc",
                                                "aes128-cbc",
                                                "3des-cbc"};
  static const std::set<std::string> macs = {"hmac-sha2-256-etm@openssh.com",
                                             "hmac-sha2-512-etm@openssh.com",
                                             "hmac-sha1-etm@openssh.com",
                                             "hmac-sha2-256",
                                             "hmac-sha2-512",
                                             "hmac-sha1"};
  static const std::set<std::string> hostkeys = {"ssh-ed25519",
                                                 "ecdsa-sha2-nistp256",
                                                 "ecdsa-sha2-nistp384",
                                                 "ecdsa-sha2-nistp521",
                                                 "rsa-sha2-512",
                                                 "rsa-sha2-256",
                                                 "ssh-rsa",
                                                 "ssh-ed25519-cert-v01@openssh.com",
                                                 "ecdsa-sha2-nistp256-cert-v01@openssh.com",
                                                 "ecdsa-sha2-nistp384-cert-v01@openssh.com",
                                                 "ecdsa-sha2-nistp521-cert-v01@openssh.com",
                                                 "rsa-sha2-512-cert-v01@openssh.com",
                                                 "rsa-sha2-256-cert-v01@openssh.com",
                                                 "ssh-rsa-cert-v01@openssh.com"};
  if (list == "kex") {
    return kex;
  }
  if (list == "ciphers") {
    return ciphers;
  }
  if (list == "macs") {
    return macs;
  }
  return hostkeys;
}

void AlgorithmList(Section& s, std::string_view key, std::string& out) {
  const toml::value* v = s.Find(key);
  if (v == nullptr ||
      !s.TypeCheck(*v, key, toml::value_t::string, "a comma-separated string of algorithm names")) {
    return;
  }
  const std::string& text = v->as_string().str;
  const auto& known = KnownAlgorithms(key);
  std::stringstream in(text);
  std::string name;
  int count = 0;
  while (std::getline(in, name, ',')) {
    if (known.count(name) == 0) {
      s.Bad(*v, key,
            fmt::format("unknown algorithm '{}' (names are comma-separated, no spaces)", name));
      return;
    }
    ++count;
  }
  if (count == 0 || text.back() == ',') {
    s.Bad(*v, key, "must name at least one algorithm, comma-separated, no empty entries");
    return;
  }
  out = text;
}

// database.url: "sqlite:PATH" (relative to the config folder) or "postgresql://..." without a
// password. Returns the normalised URL or a message.
Result<std::string> CheckDatabaseUrl(const std::string& url, const std::string& dir) {
  constexpr std::string_view kSqlite = "sqlite:";
  constexpr std::string_view kPg = "postgresql://";
  if (url.rfind(kSqlite, 0) == 0) {
    std::string path = url.substr(kSqlite.size());
    if (path.empty()) {
      return Error::InvalidArgument(
          "\"sqlite:\" needs a file path, e.g. \"sqlite:var/accounts.db\"");
    }
    return std::string(kSqlite) + ResolvePath(dir, path);
  }
  if (url.rfind(kPg, 0) == 0) {
    std::string rest = url.substr(kPg.size());
    std::string authority = rest.substr(0, rest.find_first_of("/?"));
    auto at = authority.rfind('@');
    if (at != std::string::npos && authority.substr(0, at).find(':') != std::string::npos) {
      return Error::InvalidArgument(
          "the URL embeds a password: remove it and put it in database.password_file");
    }
    std::string query = rest.find('?') == std::string::npos ? "" : rest.substr(rest.find('?') + 1);
    std::stringstream q(query);
    std::string param;
    while (std::getline(q, param, '&')) {
      std::string name = param.substr(0, param.find('='));
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (name == "password") {
        return Error::InvalidArgument(
            "the URL embeds a password: remove it and put it in database.password_file");
      }
    }
    if (authority.empty() || authority.substr(at == std::string::npos ? 0 : at + 1).empty()) {
      return Error::InvalidArgument(
          "a PostgreSQL URL needs a host: \"postgresql://user@host:5432/dbname\"");
    }
    return url;
  }
  return Error::InvalidArgument(
      "must start with \"sqlite:\" (a file) or \"postgresql://\" (a server)");
}

void ReadServer(Section& s, Config& c) {
  ServerConfig& out = c.server;
  if (const toml::value* v = s.Find("listen")) {
    if (!v->is_array() || v->as_array().empty()) {
      s.Bad(*v, "listen",
            fmt::format("expected a non-empty array of \"host:port\" strings, found {}",
                        v->is_array() ? "an empty array" : TypeName(*v)));
    } else {
      std::vector<ListenAddress> list;
      bool ok = true;
      for (const auto& item : v->as_array()) {
        if (!item.is_string()) {
          s.Bad(item, "listen",
                fmt::format("expected \"host:port\" strings, found {}", TypeName(item)));
          ok = false;
          break;
        }
        auto addr = ParseListen(item.as_string().str);
        if (!addr) {
          s.Bad(item, "listen", addr.error().message());
          ok = false;
          break;
        }
        list.push_back(*addr);
      }
      if (ok) {
        out.listen = std::move(list);
      }
    }
  }
  out.host_keys = {"var/ssh_host_ed25519_key"};
  s.StringList("host_keys", out.host_keys);
  if (out.host_keys.empty()) {
    if (const toml::value* v = s.Find("host_keys")) {
      s.Bad(*v, "host_keys", "must name at least one host key file");
    }
  }
  for (auto& k : out.host_keys) {
    k = ResolvePath(c.dir, k);
  }
  s.Bool("allow_root", out.allow_root);
  s.Duration("login_grace_time", out.login_grace_time, Seconds(1), Seconds(3600));
  s.Integer("max_auth_tries", out.max_auth_tries, 1, 100);
  s.Duration("idle_timeout", out.idle_timeout, Seconds(1), Seconds(7 * kDay));
  s.Duration("write_timeout", out.write_timeout, Seconds(1), Seconds(3600));
  s.Integer("max_sessions", out.max_sessions, 1, 1000000);
  s.Integer("max_sessions_per_ip", out.max_sessions_per_ip, 1, 1000000);
  if (const toml::value* v = s.Find("max_startups")) {
    if (s.TypeCheck(*v, "max_startups", toml::value_t::string, "a string such as \"10:30:100\"")) {
      auto m = ParseMaxStartups(v->as_string().str);
      if (m) {
        out.max_startups = *m;
      } else {
        s.Bad(*v, "max_startups", m.error().message());
      }
    }
  }
  s.Integer("per_source_max_startups", out.per_source_max_startups, 1, kMaxStartupsLimit);
  s.Integer("spare_transports", out.spare_transports, 0, 64);
  s.Integer("max_handles_per_session", out.max_handles_per_session, 1, 65536);
  s.Integer("max_concurrent_verifies", out.max_concurrent_verifies, 1, 256);
  s.Duration("shutdown_grace", out.shutdown_grace, Seconds(0), Seconds(3600));
  s.Integer("listen_backlog", out.listen_backlog, 1, 65535);
  s.String("confinement", out.confinement);
  if (out.confinement != "best_effort" && out.confinement != "required") {
    s.Bad(*s.Find("confinement"), "confinement",
          fmt::format("must be \"best_effort\" or \"required\", got \"{}\"", out.confinement));
  }
  AlgorithmList(s, "kex", out.kex);
  AlgorithmList(s, "ciphers", out.ciphers);
  AlgorithmList(s, "macs", out.macs);
  AlgorithmList(s, "hostkey_algorithms", out.hostkey_algorithms);
}

void ReadStorage(Section& s, Config& c) {
  c.storage.root = "var/files";
  s.String("root", c.storage.root);
  if (c.storage.root.empty()) {
    if (const toml::value* v = s.Find("root")) {
      s.Bad(*v, "root", "must name a folder");
    }
  }
  c.storage.root = ResolvePath(c.dir, c.storage.root);
}

void ReadDatabase(Section& s, Config& c) {
  DatabaseConfig& out = c.database;
  out.url = "sqlite:var/accounts.db";
  const toml::value* url = s.Find("url");
  s.String("url", out.url);
  auto checked = CheckDatabaseUrl(out.url, c.dir);
  if (!checked) {
    if (url != nullptr && url->is_string()) {
      s.Bad(*url, "url", checked.error().message());
    }
  } else {
    out.url = *checked;
  }
  s.String("password_file", out.password_file);
  out.password_file = ResolvePath(c.dir, out.password_file);
  if (!out.password_file.empty() && out.url.rfind("sqlite:", 0) == 0) {
    s.Bad(*s.Find("password_file"), "password_file",
          "is for PostgreSQL only; a sqlite: database has no password");
  }
  s.Integer("pool_size", out.pool_size, 1, 1024);
  s.Duration("busy_timeout", out.busy_timeout, Seconds(0), Seconds(3600));
}

void ReadArgon2(Section& s, Argon2Config& out) {
  s.Integer("t_cost", out.t_cost, kArgon2MinTCost, kArgon2MaxTCost);
  s.Integer("m_cost_kib", out.m_cost_kib, kArgon2MinMCostKib, kArgon2MaxMCostKib);
  s.Integer("parallelism", out.parallelism, 1, kArgon2MaxParallelism);
  if (out.m_cost_kib < 8 * out.parallelism) {
    // The defaults satisfy the rule, so one of the two keys is in the file.
    std::string_view key = s.Find("m_cost_kib") != nullptr ? "m_cost_kib" : "parallelism";
    s.Bad(*s.Find(key), key,
          fmt::format("m_cost_kib must be at least 8 x parallelism ({} KiB), got {}",
                      8 * out.parallelism, out.m_cost_kib));
  }
}

void ReadDefender(Section& s, DefenderConfig& out) {
  s.Bool("enabled", out.enabled);
  s.Integer("score_failure", out.score_failure, 0, 1000);
  s.Integer("threshold", out.threshold, 1, 100000);
  s.Duration("observation", out.observation, Seconds(1), Seconds(7 * kDay));
  s.Duration("ban_time", out.ban_time, Seconds(1), Seconds(30 * kDay));
  s.Integer("ban_growth_percent", out.ban_growth_percent, 0, 10000);
  const toml::value* max = s.Find("max_ban_time");
  s.Duration("max_ban_time", out.max_ban_time, Seconds(1), Seconds(365 * kDay));
  if (out.max_ban_time < out.ban_time) {
    const toml::value* at = max != nullptr ? max : s.Find("ban_time");
    s.Bad(*at, max != nullptr ? "max_ban_time" : "ban_time",
          fmt::format("max_ban_time ({}s) must not be shorter than ban_time ({}s)",
                      out.max_ban_time.count(), out.ban_time.count()));
  }
}

void ReadAuth(Section& s, Config& c) {
  auto argon2 = s.Table("argon2");
  ReadArgon2(*argon2, c.auth.argon2);
  long long floor_ms = c.auth.failure_floor.count();
  s.Integer("failure_floor_ms", floor_ms, 0, 60000);
  c.auth.failure_floor = std::chrono::milliseconds(floor_ms);
  auto defender = s.Table("defender");
  ReadDefender(*defender, c.auth.defender);
}

void ReadSmtp(Section& s, Config& c) {
  SmtpConfig& out = c.smtp;
  s.String("url", out.url);
  if (out.url.rfind("smtp://", 0) != 0 && out.url.rfind("smtps://", 0) != 0) {
    s.Bad(*s.Find("url"), "url", "must start with \"smtp://\" or \"smtps://\"");
  } else if (out.url.find('@') != std::string::npos) {
    s.Bad(*s.Find("url"), "url", "must not embed credentials: use smtp.auth_file");
  }
  s.String("from", out.from);
  if (out.from.find('@') == std::string::npos ||
      out.from.find_first_of("\r\n") != std::string::npos) {
    s.Bad(*s.Find("from"), "from",
          "must be an address such as \"SFTP service <sftp@example.com>\" on one line");
  }
  s.String("tls", out.tls);
  if (out.tls != "required" && out.tls != "try" && out.tls != "none") {
    s.Bad(*s.Find("tls"), "tls",
          fmt::format("must be \"required\", \"try\" or \"none\", got \"{}\"", out.tls));
  }
  s.String("auth_file", out.auth_file);
  out.auth_file = ResolvePath(c.dir, out.auth_file);
  s.Duration("timeout", out.timeout, Seconds(1), Seconds(3600));
  s.String("reply_to", out.reply_to);
  if (!out.reply_to.empty() && (out.reply_to.find('@') == std::string::npos ||
                                out.reply_to.find_first_of("\r\n") != std::string::npos)) {
    s.Bad(*s.Find("reply_to"), "reply_to", "must be an email address on one line");
  }
}

void ReadLifecycle(Section& s, Config& c) {
  LifecycleConfig& out = c.lifecycle;
  auto positive = [&](std::string_view key, Period& p) {
    unsigned line = s.PeriodValue(key, p);
    if (line > 0 && p.count == 0) {
      s.Bad(*s.Find(key), key, "must be longer than zero");
    }
  };
  positive("inactivity_after", out.inactivity_after);
  positive("confirmation_window", out.confirmation_window);
  s.PeriodValue("purge_after_closure", out.purge_after_closure);
  positive("marketing_retention", out.marketing_retention);
  s.PeriodValue("withdrawal_purge", out.withdrawal_purge);
  unsigned interval_line = s.PeriodValue("interval", out.interval);
  if (interval_line > 0 && out.interval.MaxSeconds() < Seconds(60)) {
    s.Bad(*s.Find("interval"), "interval", "must be at least 1min");
  }
  // The notice promises "no more than 2 years": a longer setting would break it. Compared
  // unit by unit so that every accepted value is at most two calendar years (730 days is).
  unsigned copy_line = s.PeriodValue("mail_copy_retention", out.mail_copy_retention);
  if (copy_line > 0) {
    const Period& p = out.mail_copy_retention;
    long long limit = 0;
    switch (p.unit) {
      case Period::Unit::kYears:
        limit = 2;
        break;
      case Period::Unit::kMonths:
        limit = 24;
        break;
      case Period::Unit::kDays:
        limit = 730;
        break;
      case Period::Unit::kHours:
        limit = 730LL * 24;
        break;
      case Period::Unit::kMinutes:
        limit = 730LL * 24 * 60;
        break;
      case Period::Unit::kSeconds:
        limit = 730LL * kDay;
        break;
    }
    if (p.count == 0) {
      s.Bad(*s.Find("mail_copy_retention"), "mail_copy_retention", "must be longer than zero");
    } else if (p.count > limit) {
      s.Bad(*s.Find("mail_copy_retention"), "mail_copy_retention",
            fmt::format("{} is longer than the 2 years the privacy notice promises (section 9): "
                        "at most \"2y\" (or 24m, 730d)",
                        p.ToString()));
    }
  }
  positive("ip_retention", out.ip_retention);
  s.Bool("enabled", out.enabled);
  s.String("templates_dir", out.templates_dir);
  out.templates_dir = ResolvePath(c.dir, out.templates_dir);
  s.Integer("max_delivery_attempts", out.max_delivery_attempts, 1, 1000);
  s.Duration("retry_base", out.retry_base, Seconds(1), Seconds(7 * kDay));
  const toml::value* retry_max = s.Find("retry_max");
  s.Duration("retry_max", out.retry_max, Seconds(1), Seconds(30 * kDay));
  if (out.retry_max < out.retry_base) {
    const toml::value* at = retry_max != nullptr ? retry_max : s.Find("retry_base");
    s.Bad(*at, retry_max != nullptr ? "retry_max" : "retry_base",
          "retry_max must not be shorter than retry_base");
  }

  // DESIGN.md "Timing": a deadline is met within one sweep interval, so the promise of at most
  // 31 days holds only if the period plus the interval fits in 31 days.
  constexpr Seconds kPromise(31 * kDay);
  for (const char* key : {"purge_after_closure", "withdrawal_purge"}) {
    const Period& p = std::string_view(key) == "purge_after_closure" ? out.purge_after_closure
                                                                     : out.withdrawal_purge;
    if (p.MaxSeconds() + out.interval.MaxSeconds() > kPromise) {
      const toml::value* at = s.Find(key);
      std::string_view name = key;
      if (at == nullptr) {
        at = s.Find("interval");
        name = "interval";
      }
      std::string why = fmt::format(
          "{} ({}) plus interval ({}) may exceed the promised 31 days (months count as 31 "
          "days); shorten one of them",
          key, p.ToString(), out.interval.ToString());
      if (at != nullptr) {
        s.Bad(*at, name, why);
      }
    }
  }
}

void ReadLog(Section& s, Config& c) {
  s.String("level", c.log.level);
  static const std::set<std::string> kLevels = {"trace", "debug",    "info", "warn",
                                                "error", "critical", "off"};
  if (kLevels.count(c.log.level) == 0) {
    s.Bad(*s.Find("level"), "level",
          fmt::format("unknown level \"{}\" (trace, debug, info, warn, error, critical, off)",
                      c.log.level));
  }
}

void ReadMetrics(Section& s, Config& c) {
  std::string listen;
  s.String("listen", listen);
  if (!listen.empty()) {
    auto addr = ParseListen(listen);
    if (!addr) {
      s.Bad(*s.Find("listen"), "listen", addr.error().message());
    } else if (addr->host.find(':') != std::string::npos) {
      s.Bad(*s.Find("listen"), "listen",
            fmt::format("'{}': the metrics endpoint listens on IPv4 only (Debian's civetweb is "
                        "built without IPv6); write \"127.0.0.1:9464\"",
                        listen));
    } else {
      c.metrics.listen = *addr;
    }
  }
  s.Duration("database_refresh", c.metrics.database_refresh, Seconds(1), Seconds(kDay));
}

// "[error] toml::parse_key_value_pair: missing value ..." -> "missing value ...".
std::string SyntaxMessage(const std::string& what) {
  std::string first = what.substr(0, what.find('\n'));
  constexpr std::string_view kPrefix = "[error] ";
  if (first.rfind(kPrefix, 0) == 0) {
    first = first.substr(kPrefix.size());
  }
  if (first.rfind("toml::", 0) == 0) {
    auto colon = first.find(": ");
    if (colon != std::string::npos) {
      first = first.substr(colon + 2);
    }
  }
  // toml11 puts the detail after "^---" under the offending column.
  auto caret = what.find("^--- ");
  if (caret != std::string::npos) {
    std::string detail = what.substr(caret + 5, what.find('\n', caret) - caret - 5);
    if (!detail.empty()) {
      first += " (" + detail + ")";
    }
  }
  return first;
}

// toml11 parses arrays and inline tables by recursion, one level of stack per bracket: a deep
// enough nesting overflows the stack. Our keys need two levels; this many is refused.
constexpr int kMaxNesting = 32;

// The line of the first '[' or '{' nested deeper than kMaxNesting, or 0. Brackets in strings
// (basic, literal, multi-line) and comments do not count, as for toml11; a string toml11 would
// refuse ends where toml11 stops reading it, so nothing it parses is skipped here.
unsigned FirstTooDeep(std::string_view text) {
  int depth = 0;
  unsigned line = 1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (ch == '\n') {
      ++line;
    } else if (ch == '#') {
      while (i + 1 < text.size() && text[i + 1] != '\n') {
        ++i;
      }
    } else if (ch == '"' || ch == '\'') {
      const std::string_view delim = text.substr(i, 3) == std::string(3, ch)
                                         ? std::string_view(text.data() + i, 3)
                                         : std::string_view(text.data() + i, 1);
      const bool multi = delim.size() == 3;
      for (i += delim.size(); i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\n') {
          ++line;
          if (!multi) {
            break;  // unterminated: toml11 refuses the line
          }
        } else if (ch == '"' && c == '\\') {
          ++i;  // an escape; a line-ending backslash continues a multi-line string
          if (i < text.size() && text[i] == '\n') {
            ++line;
          }
        } else if (text.substr(i, delim.size()) == delim) {
          i += delim.size() - 1;
          // A multi-line string may end with one or two quotes of its own before the delimiter.
          for (int extra = 0; multi && extra < 2 && i + 1 < text.size() && text[i + 1] == ch;
               ++extra) {
            ++i;
          }
          break;
        }
      }
    } else if (ch == '[' || ch == '{') {
      if (++depth > kMaxNesting) {
        return line;
      }
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      --depth;
    }
  }
  return 0;
}

}  // namespace

Result<MaxStartups> ParseMaxStartups(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Error::InvalidArgument(
        fmt::format("'{}' is not a max_startups value ({}): write \"start:rate:full\" such as "
                    "\"10:30:100\", or one number for a hard cap",
                    text, why));
  };
  std::vector<int> parts;
  std::string_view rest = text;
  for (;;) {
    auto colon = rest.find(':');
    std::string_view field = rest.substr(0, colon);
    int n = 0;
    auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), n);
    if (field.empty() || ec != std::errc() || end != field.data() + field.size()) {
      return bad("each field must be a whole number");
    }
    parts.push_back(n);
    if (colon == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(colon + 1);
  }
  if (parts.size() != 1 && parts.size() != 3) {
    return bad("one or three fields");
  }
  MaxStartups m{parts[0], 100, parts[0]};
  if (parts.size() == 3) {
    m.rate = parts[1];
    m.full = parts[2];
  }
  if (m.start < 1 || m.full > kMaxStartupsLimit) {
    return bad(fmt::format("start and full must be between 1 and {}", kMaxStartupsLimit));
  }
  if (m.start > m.full) {
    return bad("start must not be above full");
  }
  if (m.rate < 1 || m.rate > 100) {
    return bad("rate is a percentage from 1 to 100");
  }
  return m;
}

std::string ResolveConfigPath(const std::optional<std::string>& flag) {
  if (flag.has_value() && !flag->empty()) {
    return *flag;
  }
  const char* env = std::getenv("SFTPLC_CONFIG");
  if (env != nullptr && *env != '\0') {
    return env;
  }
  return kDefaultConfigPath;
}

Result<Config> ParseConfig(const std::string& text, const std::string& virtual_path) {
  Config c;
  std::error_code ec;
  fs::path abs = fs::absolute(fs::path(virtual_path), ec);
  if (ec) {
    abs = fs::path(virtual_path);
  }
  abs = abs.lexically_normal();
  c.path = abs.string();
  c.dir = abs.parent_path().string();

  Problems problems(virtual_path);
  // A TOML document is UTF-8. Refused here, before toml11 sees it: its parser reads past the end
  // of the text on an invalid sequence inside a multi-line literal string.
  unsigned line = 1;
  for (std::size_t at = 0; at <= text.size(); ++line) {
    std::size_t end = std::min(text.find('\n', at), text.size());
    if (!IsValidUtf8(std::string_view(text).substr(at, end - at))) {
      problems.Add(line, "not valid UTF-8 (a TOML file is UTF-8 text)");
      return problems.ToError();
    }
    at = end + 1;
  }
  if (unsigned deep = FirstTooDeep(text); deep != 0) {
    problems.Add(deep, "arrays or inline tables nested deeper than " + std::to_string(kMaxNesting));
    return problems.ToError();
  }
  toml::value root;
  try {
    std::istringstream in(text);
    root = toml::parse(in, virtual_path);
  } catch (const toml::syntax_error& e) {
    problems.Add(e.location().line(), "syntax error: " + SyntaxMessage(e.what()));
    return problems.ToError();
  } catch (const std::exception& e) {
    problems.Add(0, std::string("cannot be parsed: ") + SyntaxMessage(e.what()));
    return problems.ToError();
  }

  try {
    Section top(&root, "", problems);
    ReadServer(*top.Table("server"), c);
    ReadStorage(*top.Table("storage"), c);
    ReadDatabase(*top.Table("database"), c);
    ReadAuth(*top.Table("auth"), c);
    ReadSmtp(*top.Table("smtp"), c);
    ReadLifecycle(*top.Table("lifecycle"), c);
    ReadLog(*top.Table("log"), c);
    ReadMetrics(*top.Table("metrics"), c);
  } catch (const std::exception& e) {
    // The getters check every type before converting; this is a safety net for toml11 surprises.
    problems.Add(0, std::string("cannot be read: ") + e.what());
  }
  if (!problems.empty()) {
    return problems.ToError();
  }
  return c;
}

Result<Config> LoadConfig(const std::string& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) {
      return Error::NotFound(fmt::format(
          "configuration file {} does not exist (give --config FILE or set SFTPLC_CONFIG)", path));
    }
    if (ec == std::errc::permission_denied) {
      return Error::PermissionDenied(
          fmt::format("configuration file {} cannot be read: {}", path, ec.message()));
    }
    return Error::InvalidArgument(
        fmt::format("configuration file {} cannot be read: {}", path, ec.message()));
  }
  if (size > kMaxConfigBytes) {
    return Error::InvalidArgument(
        fmt::format("configuration file {} is larger than 1 MiB: not a configuration file", path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    if (err == EACCES) {
      return Error::PermissionDenied(
          fmt::format("configuration file {} cannot be read: {}", path, strerror(err)));
    }
    return Error::InvalidArgument(
        fmt::format("configuration file {} cannot be read: {}", path, strerror(err)));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return ParseConfig(buf.str(), path);
}

std::vector<std::string> LooseFileModes(const Config& cfg) {
  std::vector<std::string> out;
  const std::pair<const char*, const std::string*> files[] = {
      {"configuration file", &cfg.path},
      {"database.password_file", &cfg.database.password_file},
      {"smtp.auth_file", &cfg.smtp.auth_file}};
  for (const auto& [what, path] : files) {
    struct stat st {};
    if (path->empty() || stat(path->c_str(), &st) != 0 || (st.st_mode & 0044) == 0) {
      continue;
    }
    out.push_back(fmt::format("{} {} is readable by {} (mode {:04o}): chmod 600 it", what, *path,
                              (st.st_mode & 0040) && (st.st_mode & 0004) ? "group and others"
                              : (st.st_mode & 0040)                      ? "its group"
                                                                         : "others",
                              st.st_mode & 07777));
  }
  return out;
}

}  // namespace sftplc::config
