#include "sftpd/core/config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "tests/testing/temp_dir.h"
#include "tests/testing/test_env.h"

namespace sftplc::config {
namespace {

using ::testing::HasSubstr;

constexpr const char* kPath = "/etc/sftp-lifecycle/sftpd.toml";

Config MustParse(const std::string& text) {
  auto c = ParseConfig(text, kPath);
  EXPECT_TRUE(c.has_value()) << (c ? "" : c.error().message());
  return c ? *c : Config{};
}

// The message of the error ParseConfig returns; fails the test when it parses.
std::string ErrorOf(const std::string& text) {
  auto c = ParseConfig(text, kPath);
  EXPECT_FALSE(c.has_value());
  if (c) {
    return "";
  }
  EXPECT_EQ(c.error().code(), ErrorCode::kInvalidArgument);
  return c.error().message();
}

// An empty file gives every default of config.h, with default paths under the config folder.
TEST(ConfigDefaultsTest, EmptyFileGivesDocumentedDefaults) {
  Config c = MustParse("");
  EXPECT_EQ(c.path, kPath);
  EXPECT_EQ(c.dir, "/etc/sftp-lifecycle");
  ASSERT_EQ(c.server.listen.size(), 1u);
  EXPECT_EQ(c.server.listen[0].host, "0.0.0.0");
  EXPECT_EQ(c.server.listen[0].port, 2222);
  ASSERT_EQ(c.server.host_keys.size(), 1u);
  EXPECT_EQ(c.server.host_keys[0], "/etc/sftp-lifecycle/var/ssh_host_ed25519_key");
  EXPECT_FALSE(c.server.allow_root);
  EXPECT_EQ(c.server.login_grace_time, Seconds(30));
  EXPECT_EQ(c.server.max_auth_tries, 6);
  EXPECT_EQ(c.server.idle_timeout, Seconds(900));
  EXPECT_EQ(c.server.write_timeout, Seconds(30));
  EXPECT_EQ(c.server.max_sessions, 1000);
  EXPECT_EQ(c.server.max_sessions_per_ip, 100);
  EXPECT_EQ(c.server.max_startups.start, 10);
  EXPECT_EQ(c.server.max_startups.rate, 30);
  EXPECT_EQ(c.server.max_startups.full, 100);
  EXPECT_EQ(c.server.per_source_max_startups, 5);
  EXPECT_EQ(c.server.spare_transports, 2);
  EXPECT_EQ(c.server.max_handles_per_session, 256);
  EXPECT_EQ(c.server.max_concurrent_verifies, 2);
  EXPECT_EQ(c.server.shutdown_grace, Seconds(30));
  EXPECT_EQ(c.server.listen_backlog, 1024);
  EXPECT_EQ(c.server.confinement, "best_effort");
  EXPECT_EQ(c.server.kex, ServerConfig{}.kex);
  EXPECT_EQ(c.server.ciphers, ServerConfig{}.ciphers);
  EXPECT_EQ(c.storage.root, "/etc/sftp-lifecycle/var/files");
  EXPECT_EQ(c.database.url, "sqlite:/etc/sftp-lifecycle/var/accounts.db");
  EXPECT_EQ(c.database.password_file, "");
  EXPECT_EQ(c.database.pool_size, 8);
  EXPECT_EQ(c.database.busy_timeout, Seconds(10));
  EXPECT_EQ(c.auth.argon2.t_cost, Argon2Config{}.t_cost);
  EXPECT_EQ(c.auth.argon2.m_cost_kib, Argon2Config{}.m_cost_kib);
  EXPECT_EQ(c.auth.argon2.parallelism, Argon2Config{}.parallelism);
  EXPECT_EQ(c.auth.failure_floor, std::chrono::milliseconds(1000));
  EXPECT_TRUE(c.auth.defender.enabled);
  EXPECT_EQ(c.auth.defender.threshold, 15);
  EXPECT_EQ(c.auth.defender.ban_time, Seconds(900));
  EXPECT_EQ(c.smtp.url, "smtp://127.0.0.1:25");
  EXPECT_EQ(c.smtp.tls, "required");
  EXPECT_EQ(c.smtp.timeout, Seconds(30));
  EXPECT_EQ(c.lifecycle.inactivity_after, (Period{2, Period::Unit::kYears}));
  EXPECT_EQ(c.lifecycle.confirmation_window, (Period{30, Period::Unit::kDays}));
  EXPECT_EQ(c.lifecycle.interval, (Period{1, Period::Unit::kHours}));
  EXPECT_EQ(c.lifecycle.templates_dir, "");
  EXPECT_EQ(c.log.level, "info");
}

// The example of the issue (the contract's key names) parses to the values written.
TEST(ConfigParseTest, IssueExampleParses) {
  Config c = MustParse(R"(
[server]
listen = ["127.0.0.1:0", "[::1]:2222"]
host_keys = ["var/ssh_host_ed25519_key", "/abs/key"]
[storage]
root = "var/files"
[database]
url = "postgresql://sftp@db.example.com:5432/sftp"
password_file = "secrets/pg"
[auth.argon2]
t_cost = 2
m_cost_kib = 19456
parallelism = 1
[smtp]
url = "smtps://mail.example.com:465"
from = "SFTP service <sftp@example.com>"
[lifecycle]
[log]
level = "debug"
)");
  ASSERT_EQ(c.server.listen.size(), 2u);
  EXPECT_EQ(c.server.listen[0].host, "127.0.0.1");
  EXPECT_EQ(c.server.listen[0].port, 0);
  EXPECT_EQ(c.server.listen[1].host, "::1");
  EXPECT_EQ(c.server.listen[1].port, 2222);
  EXPECT_EQ(c.server.host_keys[0], "/etc/sftp-lifecycle/var/ssh_host_ed25519_key");
  EXPECT_EQ(c.server.host_keys[1], "/abs/key");
  EXPECT_EQ(c.storage.root, "/etc/sftp-lifecycle/var/files");
  EXPECT_EQ(c.database.url, "postgresql://sftp@db.example.com:5432/sftp");
  EXPECT_EQ(c.database.password_file, "/etc/sftp-lifecycle/secrets/pg");
  EXPECT_EQ(c.auth.argon2.t_cost, 2u);
  EXPECT_EQ(c.auth.argon2.m_cost_kib, 19456u);
  EXPECT_EQ(c.smtp.url, "smtps://mail.example.com:465");
  EXPECT_EQ(c.log.level, "debug");
}

// Every other key of config.h is read, durations in both notations.
TEST(ConfigParseTest, EveryKeyIsRead) {
  Config c = MustParse(R"(
[server]
allow_root = true
login_grace_time = "1min"
max_auth_tries = 3
idle_timeout = 600
write_timeout = "5s"
max_sessions = 50
max_sessions_per_ip = 5
max_startups = "4:50:20"
per_source_max_startups = 2
spare_transports = 0
max_handles_per_session = 64
max_concurrent_verifies = 4
shutdown_grace = "10s"
listen_backlog = 128
kex = "curve25519-sha256"
ciphers = "aes128-gcm@openssh.com,aes256-ctr"
macs = "hmac-sha2-256-etm@openssh.com"
hostkey_algorithms = "ssh-ed25519"
[database]
url = "sqlite:/var/lib/sftp/accounts.db"
pool_size = 2
busy_timeout = "5s"
[auth]
failure_floor_ms = 250
[auth.defender]
enabled = false
score_failure = 2
threshold = 20
observation = "5min"
ban_time = "30min"
ban_growth_percent = 50
max_ban_time = "2d"
[smtp]
tls = "try"
auth_file = "smtp.auth"
timeout = "1min"
reply_to = "help@example.com"
[lifecycle]
inactivity_after = "18m"
confirmation_window = "14d"
purge_after_closure = "7d"
marketing_retention = "3y"
withdrawal_purge = "20d"
interval = "15min"
enabled = false
templates_dir = "templates"
max_delivery_attempts = 5
retry_base = "1min"
retry_max = "1h"
mail_copy_retention = "18m"
ip_retention = "30d"
)");
  EXPECT_TRUE(c.server.allow_root);
  EXPECT_EQ(c.server.login_grace_time, Seconds(60));
  EXPECT_EQ(c.server.max_auth_tries, 3);
  EXPECT_EQ(c.server.idle_timeout, Seconds(600));
  EXPECT_EQ(c.server.write_timeout, Seconds(5));
  EXPECT_EQ(c.server.max_sessions, 50);
  EXPECT_EQ(c.server.max_sessions_per_ip, 5);
  EXPECT_EQ(c.server.max_startups.start, 4);
  EXPECT_EQ(c.server.max_startups.rate, 50);
  EXPECT_EQ(c.server.max_startups.full, 20);
  EXPECT_EQ(c.server.per_source_max_startups, 2);
  EXPECT_EQ(c.server.spare_transports, 0);
  EXPECT_EQ(c.server.max_handles_per_session, 64);
  EXPECT_EQ(c.server.max_concurrent_verifies, 4);
  EXPECT_EQ(c.server.shutdown_grace, Seconds(10));
  EXPECT_EQ(c.server.listen_backlog, 128);
  EXPECT_EQ(c.server.kex, "curve25519-sha256");
  EXPECT_EQ(c.server.ciphers, "aes128-gcm@openssh.com,aes256-ctr");
  EXPECT_EQ(c.server.macs, "hmac-sha2-256-etm@openssh.com");
  EXPECT_EQ(c.server.hostkey_algorithms, "ssh-ed25519");
  EXPECT_EQ(c.database.url, "sqlite:/var/lib/sftp/accounts.db");
  EXPECT_EQ(c.database.pool_size, 2);
  EXPECT_EQ(c.database.busy_timeout, Seconds(5));
  EXPECT_EQ(c.auth.failure_floor, std::chrono::milliseconds(250));
  EXPECT_FALSE(c.auth.defender.enabled);
  EXPECT_EQ(c.auth.defender.score_failure, 2);
  EXPECT_EQ(c.auth.defender.threshold, 20);
  EXPECT_EQ(c.auth.defender.observation, Seconds(300));
  EXPECT_EQ(c.auth.defender.ban_time, Seconds(1800));
  EXPECT_EQ(c.auth.defender.ban_growth_percent, 50);
  EXPECT_EQ(c.auth.defender.max_ban_time, Seconds(2 * 86400));
  EXPECT_EQ(c.smtp.tls, "try");
  EXPECT_EQ(c.smtp.auth_file, "/etc/sftp-lifecycle/smtp.auth");
  EXPECT_EQ(c.smtp.timeout, Seconds(60));
  EXPECT_EQ(c.smtp.reply_to, "help@example.com");
  EXPECT_EQ(c.lifecycle.inactivity_after, (Period{18, Period::Unit::kMonths}));
  EXPECT_EQ(c.lifecycle.confirmation_window, (Period{14, Period::Unit::kDays}));
  EXPECT_EQ(c.lifecycle.purge_after_closure, (Period{7, Period::Unit::kDays}));
  EXPECT_EQ(c.lifecycle.marketing_retention, (Period{3, Period::Unit::kYears}));
  EXPECT_EQ(c.lifecycle.withdrawal_purge, (Period{20, Period::Unit::kDays}));
  EXPECT_EQ(c.lifecycle.interval, (Period{15, Period::Unit::kMinutes}));
  EXPECT_FALSE(c.lifecycle.enabled);
  EXPECT_EQ(c.lifecycle.templates_dir, "/etc/sftp-lifecycle/templates");
  EXPECT_EQ(c.lifecycle.max_delivery_attempts, 5);
  EXPECT_EQ(c.lifecycle.retry_base, Seconds(60));
  EXPECT_EQ(c.lifecycle.retry_max, Seconds(3600));
  EXPECT_EQ(c.lifecycle.mail_copy_retention.ToString(), "18m");
  EXPECT_EQ(c.lifecycle.ip_retention.ToString(), "30d");
}

// Relative paths are taken from the config file's folder and normalised; a relative sqlite path
// too.
TEST(ConfigParseTest, RelativePathsResolveAgainstConfigFolder) {
  auto c = ParseConfig(R"(
[storage]
root = "../data/./files"
[database]
url = "sqlite:db/accounts.db"
)",
                       "/srv/sftp/conf/sftpd.toml");
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->storage.root, "/srv/sftp/data/files");
  EXPECT_EQ(c->database.url, "sqlite:/srv/sftp/conf/db/accounts.db");
}

// An unknown key is refused with its full name and line.
TEST(ConfigErrorTest, UnknownKeyNamesKeyAndLine) {
  std::string e = ErrorOf("[server]\nlisten = [\"127.0.0.1:22\"]\nmax_sesions = 4\n");
  EXPECT_THAT(e, HasSubstr("/etc/sftp-lifecycle/sftpd.toml:3:"));
  EXPECT_THAT(e, HasSubstr("unknown key 'server.max_sesions'"));
}

// A file that is not UTF-8 is refused with the line of the first bad sequence, before the TOML
// parser sees it (toml11 read past the end of such a multi-line literal string; found by
// config_fuzz, whose corpus keeps the input).
TEST(ConfigErrorTest, InvalidUtf8RefusedWithItsLine) {
  EXPECT_THAT(ErrorOf("[server]\nlisten = '''\n'\xe2\xd8\xd8\xd8'''\n"),
              HasSubstr(":3: not valid UTF-8"));
  EXPECT_THAT(ErrorOf("# caf\xe9\n"), HasSubstr(":1: not valid UTF-8"));
}

// Arrays and inline tables nested deeper than anyone writes are refused with the line where
// the nesting got too deep, before toml11 sees them: it parses nesting by recursion, and a
// deep enough nesting overflowed the stack (found by config_fuzz, whose corpus keeps the input).
// Brackets inside strings and comments do not count, as for toml11.
TEST(ConfigErrorTest, DeepNestingRefusedWithItsLine) {
  EXPECT_THAT(ErrorOf("[server]\nlisten = " + std::string(200000, '[') + "\n"),
              HasSubstr(":2: arrays or inline tables nested deeper than 32"));
  EXPECT_THAT(ErrorOf("[server]\n\nx = " + std::string(20, '{') + "a = " + std::string(13, '[')),
              HasSubstr(":3: arrays or inline tables nested deeper than 32"));
  // 32 levels are still parsed (and refused for what they are, not for their depth).
  EXPECT_THAT(ErrorOf("[server]\nx = " + std::string(32, '[') + std::string(32, ']') + "\n"),
              HasSubstr("unknown key 'server.x'"));
  // Closing brackets in a string or comment do not hide nesting; opening ones do not add to it.
  EXPECT_THAT(ErrorOf("[server]\nx = [[[\"]]]]\", '\"]]]', \"\"\"]]]\"\"\"\"\", # ]]]]\n" +
                      std::string(40, '[')),
              HasSubstr("nested deeper than 32"));
  EXPECT_THAT(
      ErrorOf("[server]\nx = \"" + std::string(100, '[') + "\" # " + std::string(100, '{') + "\n"),
      HasSubstr("unknown key 'server.x'"));
}

// An unknown table and an unknown nested key are refused too.
TEST(ConfigErrorTest, UnknownTableAndNestedKey) {
  EXPECT_THAT(ErrorOf("\n[sever]\nlisten = 1\n"), HasSubstr(":2: unknown key 'sever'"));
  EXPECT_THAT(ErrorOf("[auth.argon2]\nt_cost = 3\nmemory = 5\n"),
              HasSubstr(":3: unknown key 'auth.argon2.memory'"));
  EXPECT_THAT(ErrorOf("top = 1\n"), HasSubstr(":1: unknown key 'top'"));
}

// Several problems: the earliest is reported, with a count of the rest.
TEST(ConfigErrorTest, EarliestProblemReportedWithCount) {
  std::string e = ErrorOf("[log]\nlevel = \"loud\"\n[server]\nmax_sessions = 0\nbogus = 1\n");
  EXPECT_THAT(e, HasSubstr(":2: log.level"));
  EXPECT_THAT(e, HasSubstr("and 2 more problems"));
}

// A wrong type is refused naming the expected and the found type.
TEST(ConfigErrorTest, WrongTypes) {
  EXPECT_THAT(ErrorOf("[server]\nmax_sessions = \"10\"\n"),
              HasSubstr(":2: server.max_sessions: expected an integer, found a string"));
  EXPECT_THAT(ErrorOf("[server]\nallow_root = 1\n"),
              HasSubstr("server.allow_root: expected a boolean"));
  EXPECT_THAT(ErrorOf("[server]\nlisten = \"0.0.0.0:22\"\n"),
              HasSubstr("server.listen: expected a non-empty array"));
  EXPECT_THAT(ErrorOf("[server]\nhost_keys = [1]\n"),
              HasSubstr("server.host_keys: expected an array of strings"));
  EXPECT_THAT(ErrorOf("server = 3\n"), HasSubstr("server: expected a table, found an integer"));
  EXPECT_THAT(ErrorOf("[lifecycle]\ninterval = 3600\n"),
              HasSubstr("lifecycle.interval: expected a duration string"));
  EXPECT_THAT(ErrorOf("[server]\nidle_timeout = 1.5\n"),
              HasSubstr("server.idle_timeout: expected a duration"));
}

// A TOML syntax error names the file and line.
// max_startups is "start:rate:full" or one number (a hard cap); anything else names the key, the
// line and what is wrong.
TEST(ConfigParseTest, MaxStartupsForms) {
  MaxStartups hard = MustParse("[server]\nmax_startups = \"7\"\n").server.max_startups;
  EXPECT_EQ(hard.start, 7);
  EXPECT_EQ(hard.rate, 100);
  EXPECT_EQ(hard.full, 7);
  EXPECT_THAT(ErrorOf("[server]\nmax_startups = 10\n"),
              HasSubstr(":2: server.max_startups: expected a string such as \"10:30:100\""));
  EXPECT_THAT(ErrorOf("[server]\nmax_startups = \"10:30\"\n"),
              HasSubstr(":2: server.max_startups: '10:30' is not a max_startups value (one or "
                        "three fields)"));
  EXPECT_THAT(ErrorOf("[server]\nmax_startups = \"10:x:100\"\n"),
              HasSubstr("(each field must be a whole number)"));
  EXPECT_THAT(ErrorOf("[server]\nmax_startups = \"10::100\"\n"),
              HasSubstr("(each field must be a whole number)"));
  EXPECT_THAT(ErrorOf("[server]\nmax_startups = \"20:30:10\"\n"),
              HasSubstr("(start must not be above full)"));
  EXPECT_THAT(ErrorOf("[server]\nmax_startups = \"10:0:100\"\n"),
              HasSubstr("(rate is a percentage from 1 to 100)"));
  EXPECT_THAT(ErrorOf("[server]\nmax_startups = \"10:101:100\"\n"),
              HasSubstr("(rate is a percentage from 1 to 100)"));
  EXPECT_THAT(ErrorOf("[server]\nmax_startups = \"0\"\n"),
              HasSubstr("(start and full must be between 1 and 1000000)"));
  EXPECT_THAT(ErrorOf("[server]\nmax_startups = \"-1:30:100\"\n"),
              HasSubstr("(start and full must be between 1 and 1000000)"));
  EXPECT_THAT(ErrorOf("[server]\nper_source_max_startups = 0\n"),
              HasSubstr(":2: server.per_source_max_startups: must be between 1 and 1000000"));
  EXPECT_THAT(ErrorOf("[server]\nspare_transports = 65\n"),
              HasSubstr(":2: server.spare_transports: must be between 0 and 64"));
}

TEST(ConfigErrorTest, SyntaxErrorNamesLine) {
  std::string e = ErrorOf("[server]\nmax_sessions = \n");
  EXPECT_THAT(e, HasSubstr("/etc/sftp-lifecycle/sftpd.toml:2: syntax error"));
  EXPECT_THAT(ErrorOf("[log]\nlevel = \"a\"\nlevel = \"b\"\n"), HasSubstr(":3: syntax error"));
}

// Listen addresses: host:port, [v6]:port, port 0..65535; anything else refused.
TEST(ConfigErrorTest, ListenAddresses) {
  for (const char* bad : {"localhost:22", "0.0.0.0", "0.0.0.0:", "0.0.0.0:65536", "::1:22",
                          "[::1]22", "[nope]:22", "1.2.3.4:-1", "1.2.3.4:2x"}) {
    std::string e = ErrorOf(std::string("[server]\nlisten = [\"") + bad + "\"]\n");
    EXPECT_THAT(e, HasSubstr(":2: server.listen")) << bad;
    EXPECT_THAT(e, HasSubstr("not a listen address")) << bad;
  }
  EXPECT_THAT(ErrorOf("[server]\nlisten = []\n"), HasSubstr("empty array"));
  Config c = MustParse("[server]\nlisten = [\"0.0.0.0:65535\"]\n");
  EXPECT_EQ(c.server.listen[0].port, 65535);
}

// Integer limits are enforced with the accepted range in the message.
TEST(ConfigErrorTest, IntegerOutOfRange) {
  EXPECT_THAT(ErrorOf("[server]\nmax_auth_tries = 0\n"),
              HasSubstr("server.max_auth_tries: must be between 1 and 100, got 0"));
  EXPECT_THAT(ErrorOf("[database]\npool_size = -1\n"), HasSubstr("database.pool_size"));
  EXPECT_THAT(ErrorOf("[auth]\nfailure_floor_ms = 600000\n"), HasSubstr("auth.failure_floor_ms"));
}

// Durations: bad text, calendar units where a fixed length is needed, out of range.
TEST(ConfigErrorTest, BadDurations) {
  EXPECT_THAT(ErrorOf("[server]\nidle_timeout = \"ten\"\n"),
              HasSubstr("server.idle_timeout: 'ten' is not a duration"));
  EXPECT_THAT(ErrorOf("[server]\nidle_timeout = \"1m\"\n"), HasSubstr("calendar period"));
  EXPECT_THAT(ErrorOf("[server]\nlogin_grace_time = \"0s\"\n"),
              HasSubstr("server.login_grace_time: must be between 1s and 3600s, got 0s"));
  EXPECT_THAT(ErrorOf("[lifecycle]\nconfirmation_window = \"30 days\"\n"),
              HasSubstr("lifecycle.confirmation_window: '30 days' is not a duration"));
}

// database.url: only sqlite: and postgresql://, and never a password inside.
TEST(ConfigErrorTest, DatabaseUrl) {
  EXPECT_THAT(ErrorOf("[database]\nurl = \"mysql://x@h/db\"\n"),
              HasSubstr(":2: database.url: must start with \"sqlite:\""));
  EXPECT_THAT(ErrorOf("[database]\nurl = \"sqlite:\"\n"), HasSubstr("needs a file path"));
  EXPECT_THAT(ErrorOf("[database]\nurl = \"postgresql://u:secret@h:5432/db\"\n"),
              HasSubstr("embeds a password"));
  EXPECT_THAT(ErrorOf("[database]\nurl = \"postgresql://u@h/db?sslmode=require&Password=x\"\n"),
              HasSubstr("embeds a password"));
  EXPECT_THAT(ErrorOf("[database]\nurl = \"postgresql:///db\"\n"), HasSubstr("needs a host"));
  // The message never repeats the password.
  EXPECT_THAT(ErrorOf("[database]\nurl = \"postgresql://u:hunter2@h/db\"\n"),
              ::testing::Not(HasSubstr("hunter2")));
  EXPECT_THAT(ErrorOf("[database]\npassword_file = \"pw\"\n"), HasSubstr("PostgreSQL only"));
}

// Argon2 parameters: t >= 1, m >= 8 x p, maxima.
TEST(ConfigErrorTest, Argon2Limits) {
  EXPECT_THAT(ErrorOf("[auth.argon2]\nt_cost = 0\n"), HasSubstr("auth.argon2.t_cost"));
  EXPECT_THAT(ErrorOf("[auth.argon2]\nt_cost = 1000\n"), HasSubstr("auth.argon2.t_cost"));
  EXPECT_THAT(ErrorOf("[auth.argon2]\nm_cost_kib = 4\n"), HasSubstr("auth.argon2.m_cost_kib"));
  EXPECT_THAT(ErrorOf("[auth.argon2]\nm_cost_kib = 99999999\n"),
              HasSubstr("auth.argon2.m_cost_kib"));
  EXPECT_THAT(ErrorOf("[auth.argon2]\nm_cost_kib = 16\nparallelism = 4\n"),
              HasSubstr(":2: auth.argon2.m_cost_kib: m_cost_kib must be at least 8 x parallelism"));
  EXPECT_THAT(ErrorOf("[auth.argon2]\nparallelism = 0\n"), HasSubstr("auth.argon2.parallelism"));
}

// Lifecycle: the 31-day promise including the sweep interval, positive windows.
TEST(ConfigErrorTest, LifecycleTiming) {
  EXPECT_THAT(ErrorOf("[lifecycle]\npurge_after_closure = \"31d\"\n"),
              HasSubstr(":2: lifecycle.purge_after_closure: purge_after_closure (31d) plus "
                        "interval (1h) may exceed the promised 31 days"));
  EXPECT_THAT(ErrorOf("[lifecycle]\nwithdrawal_purge = \"1m\"\n"),
              HasSubstr("lifecycle.withdrawal_purge"));
  // The interval alone can break the promise made with the default purge periods.
  EXPECT_THAT(ErrorOf("[lifecycle]\ninterval = \"2d\"\n"), HasSubstr(":2: lifecycle.interval"));
  EXPECT_THAT(ErrorOf("[lifecycle]\nconfirmation_window = \"0d\"\n"),
              HasSubstr("lifecycle.confirmation_window: must be longer than zero"));
  EXPECT_THAT(ErrorOf("[lifecycle]\ninterval = \"30s\"\n"), HasSubstr("at least 1min"));
  EXPECT_THAT(ErrorOf("[lifecycle]\nretry_base = \"2d\"\n"), HasSubstr("retry_max"));
  // At the limit it is accepted.
  Config c = MustParse(
      "[lifecycle]\npurge_after_closure = \"30d\"\ninterval = \"1d\"\n"
      "withdrawal_purge = \"0d\"\n");
  EXPECT_EQ(c.lifecycle.purge_after_closure.count, 30);
}

// Section 9: mail copies are kept at most 2 years; a longer setting is refused at load, naming
// the key and the promise; the default is the maximum. IP retention must be positive.
TEST(ConfigErrorTest, MailCopyRetentionAtMostTwoYears) {
  EXPECT_EQ(MustParse("").lifecycle.mail_copy_retention.ToString(), "2y");
  EXPECT_EQ(MustParse("").lifecycle.ip_retention.ToString(), "90d");
  for (const char* ok : {"2y", "24m", "730d", "1y", "17520h", "30d"}) {
    Config c = MustParse(std::string("[lifecycle]\nmail_copy_retention = \"") + ok + "\"\n");
    EXPECT_EQ(c.lifecycle.mail_copy_retention.ToString(), ok);
  }
  for (const char* bad : {"3y", "25m", "731d", "17521h"}) {
    EXPECT_THAT(ErrorOf(std::string("[lifecycle]\nmail_copy_retention = \"") + bad + "\"\n"),
                HasSubstr(":2: lifecycle.mail_copy_retention: " + std::string(bad) +
                          " is longer than the 2 years the privacy notice promises"));
  }
  EXPECT_THAT(ErrorOf("[lifecycle]\nmail_copy_retention = \"0d\"\n"),
              HasSubstr("must be longer than zero"));
  EXPECT_THAT(ErrorOf("[lifecycle]\nip_retention = \"0d\"\n"),
              HasSubstr("lifecycle.ip_retention: must be longer than zero"));
}

// Defender: max ban not shorter than the first ban.
TEST(ConfigErrorTest, DefenderBanTimes) {
  EXPECT_THAT(ErrorOf("[auth.defender]\nban_time = \"2d\"\n"),
              HasSubstr("auth.defender.ban_time: max_ban_time"));
  EXPECT_THAT(ErrorOf("[auth.defender]\nthreshold = 0\n"), HasSubstr("auth.defender.threshold"));
}

// SMTP and log values.
TEST(ConfigErrorTest, SmtpAndLogValues) {
  EXPECT_THAT(ErrorOf("[smtp]\nurl = \"http://x\"\n"), HasSubstr("smtp.url"));
  EXPECT_THAT(ErrorOf("[smtp]\nurl = \"smtp://u:p@x\"\n"), HasSubstr("auth_file"));
  EXPECT_THAT(ErrorOf("[smtp]\ntls = \"maybe\"\n"), HasSubstr("smtp.tls"));
  EXPECT_THAT(ErrorOf("[server]\nconfinement = \"strict\"\n"), HasSubstr("server.confinement"));
  EXPECT_THAT(ErrorOf("[smtp]\nfrom = \"nobody\"\n"), HasSubstr("smtp.from"));
  EXPECT_THAT(ErrorOf("[smtp]\nreply_to = \"a@b\\r\\nBcc: x@y\"\n"), HasSubstr("smtp.reply_to"));
  EXPECT_THAT(ErrorOf("[log]\nlevel = \"verbose\"\n"), HasSubstr("log.level: unknown level"));
}

// Algorithm lists: unknown names and empty entries are refused.
TEST(ConfigErrorTest, AlgorithmLists) {
  EXPECT_THAT(ErrorOf("[server]\nciphers = \"aes128-gcm@openssh.com, aes256-ctr\"\n"),
              HasSubstr("server.ciphers: unknown algorithm ' aes256-ctr'"));
  EXPECT_THAT(ErrorOf("[server]\nkex = \"\"\n"), HasSubstr("server.kex"));
  EXPECT_THAT(ErrorOf("[server]\nmacs = \"hmac-sha2-256,\"\n"), HasSubstr("server.macs"));
}

// The complete example of docs/configuration.md parses and equals the defaults of an empty file.
TEST(ConfigDocsTest, DocumentedExampleIsValidAndMatchesDefaults) {
  std::string doc = testing::ReadFile(testing::SourcePath("docs/configuration.md"));
  auto start = doc.find("```toml", doc.find("## Complete example"));
  ASSERT_NE(start, std::string::npos);
  start += 7;
  auto end = doc.find("```", start);
  ASSERT_NE(end, std::string::npos);
  Config ex = MustParse(doc.substr(start, end - start));
  Config def = MustParse("");
  EXPECT_EQ(ex.server.host_keys, def.server.host_keys);
  EXPECT_EQ(ex.server.idle_timeout, def.server.idle_timeout);
  EXPECT_EQ(ex.server.max_startups.start, def.server.max_startups.start);
  EXPECT_EQ(ex.server.max_startups.rate, def.server.max_startups.rate);
  EXPECT_EQ(ex.server.max_startups.full, def.server.max_startups.full);
  EXPECT_EQ(ex.server.per_source_max_startups, def.server.per_source_max_startups);
  EXPECT_EQ(ex.server.spare_transports, def.server.spare_transports);
  EXPECT_EQ(ex.server.kex, def.server.kex);
  EXPECT_EQ(ex.server.ciphers, def.server.ciphers);
  EXPECT_EQ(ex.server.macs, def.server.macs);
  EXPECT_EQ(ex.server.hostkey_algorithms, def.server.hostkey_algorithms);
  EXPECT_EQ(ex.storage.root, def.storage.root);
  EXPECT_EQ(ex.database.url, def.database.url);
  EXPECT_EQ(ex.auth.argon2.m_cost_kib, def.auth.argon2.m_cost_kib);
  EXPECT_EQ(ex.auth.argon2.t_cost, def.auth.argon2.t_cost);
  EXPECT_EQ(ex.auth.defender.max_ban_time, def.auth.defender.max_ban_time);
  EXPECT_EQ(ex.auth.defender.observation, def.auth.defender.observation);
  EXPECT_EQ(ex.lifecycle.retry_base, def.lifecycle.retry_base);
  EXPECT_EQ(ex.lifecycle.marketing_retention, def.lifecycle.marketing_retention);
  EXPECT_EQ(ex.metrics.database_refresh, def.metrics.database_refresh);
  EXPECT_FALSE(ex.metrics.listen.has_value());
}

// [metrics]: off by default; listen takes one IPv4 "host:port" (port 0 allowed); IPv6 and
// anything else is refused with the key named.
TEST(ConfigMetricsTest, ListenIsOptionalIPv4) {
  Config def = MustParse("");
  EXPECT_FALSE(def.metrics.listen.has_value());
  EXPECT_EQ(def.metrics.database_refresh, Seconds(60));
  Config on = MustParse("[metrics]\nlisten = \"127.0.0.1:0\"\ndatabase_refresh = \"5min\"\n");
  ASSERT_TRUE(on.metrics.listen.has_value());
  EXPECT_EQ(on.metrics.listen->host, "127.0.0.1");
  EXPECT_EQ(on.metrics.listen->port, 0);
  EXPECT_EQ(on.metrics.database_refresh, Seconds(300));
  EXPECT_THAT(ErrorOf("[metrics]\nlisten = \"[::1]:9464\"\n"),
              HasSubstr("metrics.listen: '[::1]:9464': the metrics endpoint listens on IPv4 only"));
  EXPECT_THAT(ErrorOf("[metrics]\nlisten = \"localhost:9464\"\n"),
              HasSubstr("metrics.listen: 'localhost:9464' is not a listen address"));
  EXPECT_THAT(ErrorOf("[metrics]\nlisten = 9464\n"), HasSubstr("metrics.listen"));
  EXPECT_THAT(ErrorOf("[metrics]\ndatabase_refresh = \"0s\"\n"),
              HasSubstr("metrics.database_refresh"));
  EXPECT_THAT(ErrorOf("[metrics]\nport = 9464\n"), HasSubstr("unknown key 'metrics.port'"));
}

// LoadConfig reads a real file; a missing one is kNotFound naming the path.
TEST(LoadConfigTest, ReadsFileAndReportsMissing) {
  testing::TempDir dir;
  std::string path = dir.Sub("conf/sftpd.toml");
  testing::WriteFile(path, "[storage]\nroot = \"files\"\n[log]\nlevel = \"warn\"\n");
  auto c = LoadConfig(path);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->storage.root, dir.Sub("conf/files"));
  EXPECT_EQ(c->log.level, "warn");
  EXPECT_EQ(c->path, path);

  auto missing = LoadConfig(dir.Sub("nope.toml"));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.error().message(), HasSubstr("nope.toml"));

  testing::WriteFile(dir.Sub("bad.toml"), "[log]\nlevel = 3\n");
  auto bad = LoadConfig(dir.Sub("bad.toml"));
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message(), HasSubstr(dir.Sub("bad.toml") + ":2: log.level"));
}

// The path comes from the flag, else $SFTPLC_CONFIG, else the system default.
TEST(ResolveConfigPathTest, FlagThenEnvThenDefault) {
  ::setenv("SFTPLC_CONFIG", "/from/env.toml", 1);
  EXPECT_EQ(ResolveConfigPath(std::string("/from/flag.toml")), "/from/flag.toml");
  EXPECT_EQ(ResolveConfigPath(std::nullopt), "/from/env.toml");
  ::unsetenv("SFTPLC_CONFIG");
  EXPECT_EQ(ResolveConfigPath(std::nullopt), "/etc/sftp-lifecycle/sftpd.toml");
}

// A config file, database.password_file or smtp.auth_file that a group or other users can read
// gets one warning naming the file and its mode (never its contents); private files none.
TEST(ConfigModesTest, LooseFileModesNamesEachFile) {
  testing::TempDir dir;
  std::string cfg_path = dir.Sub("sftpd.toml"), pw = dir.Sub("db-password"),
              smtp = dir.Sub("smtp-auth");
  testing::WriteFile(pw, "s3cret-password\n");
  testing::WriteFile(smtp, "user:s3cret-smtp\n");
  testing::WriteFile(cfg_path,
                     "[database]\nurl = \"postgresql://u@localhost/db\"\npassword_file = \"" + pw +
                         "\"\n[smtp]\nauth_file = \"" + smtp + "\"\n");
  for (const std::string& f : {cfg_path, pw, smtp}) {
    ASSERT_EQ(chmod(f.c_str(), 0600), 0);
  }
  auto c = LoadConfig(cfg_path);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_TRUE(LooseFileModes(*c).empty());
  ASSERT_EQ(chmod(cfg_path.c_str(), 0644), 0);
  ASSERT_EQ(chmod(pw.c_str(), 0640), 0);
  ASSERT_EQ(chmod(smtp.c_str(), 0604), 0);
  auto w = LooseFileModes(*c);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0], "configuration file " + cfg_path +
                      " is readable by group and others (mode 0644): chmod 600 it");
  EXPECT_EQ(w[1],
            "database.password_file " + pw + " is readable by its group (mode 0640): chmod 600 it");
  EXPECT_EQ(w[2], "smtp.auth_file " + smtp + " is readable by others (mode 0604): chmod 600 it");
  for (const auto& line : w) {
    EXPECT_EQ(line.find("s3cret"), std::string::npos);
  }
}

}  // namespace
}  // namespace sftplc::config
