// The processes of a connection, proven from outside: the real daemon, real clients, and each
// process itself made to issue system calls (SyscallInjector). The transport (sftpd-session)
// opens no file at all, before the login as after it; the SFTP worker may open its own
// account's files and nothing else (another account's, the database, the host key, the config,
// /etc/passwd); neither creates a socket or holds a capability; killing either ends its
// session only.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/daemon_harness.h"
#include "tests/testing/openssh_client.h"
#include "tests/testing/syscall_injector.h"

namespace sftplc::testing {
namespace {

constexpr const char* kPassword = "correct horse battery staple";

// The value of `key` in /proc/PID/status ("" when missing).
std::string StatusField(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::string v = line.substr(key.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return "";
}

// The children of `parent` named `name` (sftpd-sftp, sftpd-session).
std::set<pid_t> Children(pid_t parent, const std::string& comm) {
  std::set<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    pid_t pid = std::stoi(name);
    if (StatusField(pid, "Name") == comm && StatusField(pid, "PPid") == std::to_string(parent)) {
      out.insert(pid);
    }
  }
  return out;
}

std::set<pid_t> Workers(pid_t parent) { return Children(parent, "sftpd-sftp"); }

// True when `pid` holds a client's connection: a transport's client socket comes with its Hello
// and is its descriptor 3; a spare (transport_pool.h) has nothing there.
bool HoldsClient(pid_t pid) {
  std::error_code ec;
  auto target = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/fd/3", ec);
  return !ec && target.string().rfind("socket:", 0) == 0;
}
// The transports of `parent` that serve a connection, and its spares.
std::set<pid_t> Transports(pid_t parent) {
  std::set<pid_t> out;
  for (pid_t p : Children(parent, "sftpd-session")) {
    if (HoldsClient(p)) {
      out.insert(p);
    }
  }
  return out;
}
std::set<pid_t> Spares(pid_t parent) {
  std::set<pid_t> out;
  for (pid_t p : Children(parent, "sftpd-session")) {
    if (!HoldsClient(p)) {
      out.insert(p);
    }
  }
  return out;
}
// Waits (30 s at most) until `parent` has `n` spares; returns them.
std::set<pid_t> WaitForSpares(pid_t parent, std::size_t n) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::set<pid_t> spares = Spares(parent);
  while (spares.size() != n && std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
    spares = Spares(parent);
  }
  return spares;
}

bool WaitBlockedInRead(pid_t pid) { return WaitBlockedIn(pid, SYS_read); }

// The new member of `now` that `before` lacks, within 30 s of asking `list` again; -1 if none.
template <typename List>
pid_t WaitForNew(const std::set<pid_t>& before, List list) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < until) {
    for (pid_t p : list()) {
      if (before.count(p) == 0) {
        return p;
      }
    }
    std::this_thread::yield();
  }
  return -1;
}

// NoNewPrivs, seccomp filtering and no capability at all.
void ExpectConfinedStatus(pid_t pid) {
  EXPECT_EQ(StatusField(pid, "NoNewPrivs"), "1");
  EXPECT_EQ(StatusField(pid, "Seccomp"), "2");
  for (const char* caps : {"CapInh", "CapPrm", "CapEff", "CapAmb"}) {
    EXPECT_EQ(StatusField(pid, caps), "0000000000000000") << caps;
  }
}

class ConfinementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    d_.Set("server", "shutdown_grace = \"2s\"");
    d_.WriteConfig();
    for (const char* user : {"alice", "bob"}) {
      auto r = d_.Sftpctl(std::string("account create --username ") + user +
                              " --name Client --email c@example.com --phone +441513577700"
                              " --password-stdin",
                          std::string(kPassword) + "\n");
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    WriteFile(d_.dir().Sub("pw"), std::string(kPassword) + "\n");
    ASSERT_TRUE(d_.Start()) << d_.error();
  }
  void TearDown() override {
    for (FILE* f : sessions_) {
      pclose(f);
    }
  }

  // `batch`: a batch file, or "-" for commands on stdin.
  std::string SftpCommand(const std::string& user, const std::string& batch) const {
    return SftpBatchCommand({d_.port(), user, d_.dir().Sub("pw")}, batch);
  }
  CommandResult Sftp(const std::string& user, const std::string& commands) {
    return RunSftpBatch({d_.port(), user, d_.dir().Sub("pw")}, d_.dir().Sub("batch-" + user),
                        commands);
  }
  // A session of `user` that stays open (its client waits for commands on a pipe) and the pid
  // of the worker serving it (the one worker that was not there before).
  pid_t OpenIdleSession(const std::string& user) {
    std::set<pid_t> before = Workers(d_.pid());
    FILE* f = popen((SftpCommand(user, "-") + " >/dev/null 2>&1").c_str(), "w");
    EXPECT_NE(f, nullptr);
    sessions_.push_back(f);
    return WaitForNewWorker(before);
  }
  pid_t WaitForNewWorker(const std::set<pid_t>& before) {
    pid_t p = WaitForNew(before, [this] { return Workers(d_.pid()); });
    EXPECT_GT(p, 0) << "no new sftp worker\n" << d_.Log();
    return p;
  }
  // The paths no process of a connection may open (besides another account's files).
  std::vector<std::string> Forbidden() const {
    return {d_.database_path(), d_.host_key_path(), d_.config_path(), "/etc/passwd",
            d_.storage_root()};
  }
  std::string Home(const std::string& user) {
    auto show = nlohmann::json::parse(d_.Sftpctl("account show " + user + " --json").out);
    return d_.storage_root() + "/" + show["id"].get<std::string>();
  }
  std::vector<std::string> EndReasons(const std::string& user) {
    auto r = d_.Sftpctl("usage show " + user + " --json");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> out;
    nlohmann::json usage = nlohmann::json::parse(r.out);
    for (const auto& s : usage["sessions"]) {
      out.push_back(s["end_reason"].is_null() ? "" : s["end_reason"].get<std::string>());
    }
    return out;
  }
  std::string Sha(const std::string& p) {
    return RunCommand("sha256sum '" + p + "' | cut -d' ' -f1").out;
  }

  // SIGSEGV, then SIGKILL, to bob's transport or worker while alice puts and gets 32 MiB: each
  // transfer completes with the right checksum, bob's session ends with `reason` (twice, and
  // never alice's), and bob's worker is gone.
  void CrashOneSessionDuringAnother(bool transport, const std::string& reason) {
    std::string f = d_.dir().Sub("f32m");
    RunCommand("head -c 33554432 /dev/urandom > '" + f + "'");
    int round = 0;
    for (int sig : {SIGSEGV, SIGKILL}) {
      SCOPED_TRACE(sig);
      ++round;
      std::set<pid_t> transports = Transports(d_.pid());
      pid_t bob_worker = OpenIdleSession("bob");
      ASSERT_GT(bob_worker, 0);
      pid_t bob_transport = WaitForNew(transports, [this] { return Transports(d_.pid()); });
      ASSERT_GT(bob_transport, 0);
      std::set<pid_t> before = Workers(d_.pid());
      std::string back = f + ".back" + std::to_string(round);
      WriteFile(d_.dir().Sub("batch-alice"), "put " + f + " f\nget f " + back + "\n");
      FILE* transfer =
          popen((SftpCommand("alice", d_.dir().Sub("batch-alice")) + " 2>&1").c_str(), "r");
      ASSERT_NE(transfer, nullptr);
      ASSERT_GT(WaitForNewWorker(before), 0);  // alice's session is serving
      std::size_t from = d_.Log().size();
      ASSERT_EQ(kill(transport ? bob_transport : bob_worker, sig), 0);
      std::string out;
      char buf[4096];
      while (std::fgets(buf, sizeof(buf), transfer) != nullptr) {
        out += buf;
      }
      EXPECT_EQ(pclose(transfer), 0) << out << d_.Log();
      EXPECT_EQ(Sha(back), Sha(f));
      EXPECT_TRUE(d_.WaitForLog("reason=" + reason, 30, from)) << d_.Log();
      EXPECT_EQ(Workers(d_.pid()).count(bob_worker), 0u);
    }
    auto bob_reasons = EndReasons("bob");
    EXPECT_EQ(std::count(bob_reasons.begin(), bob_reasons.end(), reason), 2)
        << ::testing::PrintToString(bob_reasons);
    auto alice_reasons = EndReasons("alice");
    EXPECT_EQ(std::count(alice_reasons.begin(), alice_reasons.end(), reason), 0);
  }

  DaemonHarness d_;
  std::vector<FILE*> sessions_;
};

TEST_F(ConfinementTest, WorkerCanOpenOnlyItsOwnAccountsFiles) {
  if (!SyscallInjector::Supported()) {
    GTEST_SKIP() << "the syscall injector knows x86_64 only";
  }
  WriteFile(d_.dir().Sub("own"), "alice's own file\n");
  WriteFile(d_.dir().Sub("secret"), "bob's file\n");
  ASSERT_EQ(Sftp("alice", "put " + d_.dir().Sub("own") + " own\n").exit_code, 0) << d_.Log();
  ASSERT_EQ(Sftp("bob", "put " + d_.dir().Sub("secret") + " secret\n").exit_code, 0);

  pid_t worker = OpenIdleSession("alice");
  ASSERT_GT(worker, 0);
  // Blocked reading its data socket: confined and serving (it waits for Start in recvmsg).
  ASSERT_TRUE(WaitBlockedInRead(worker));
  ExpectConfinedStatus(worker);

  SyscallInjector inject;
  ASSERT_TRUE(inject.Attach(worker)) << inject.error();
  auto own = inject.OpenAt(Home("alice") + "/own", O_RDONLY);
  ASSERT_FALSE(own.killed);
  EXPECT_GE(own.ret, 0) << "the worker opens its own account's files";
  std::vector<std::string> forbidden = Forbidden();
  forbidden.push_back(Home("bob") + "/secret");
  for (const std::string& path : forbidden) {
    auto o = inject.OpenAt(path, O_RDONLY);
    ASSERT_FALSE(o.killed) << path;
    EXPECT_TRUE(o.ret == -EACCES || o.ret == -EPERM) << path << " ret=" << o.ret;
  }
  auto create = inject.OpenAt(Home("bob") + "/planted", O_WRONLY | O_CREAT);
  EXPECT_TRUE(create.killed || create.ret == -EACCES || create.ret == -EPERM) << create.ret;
  EXPECT_FALSE(std::filesystem::exists(Home("bob") + "/planted"));

  // No socket: the seccomp filter kills the worker, which ends that session only.
  std::size_t from = d_.Log().size();
  auto sock = inject.Syscall(SYS_socket, {AF_INET, SOCK_STREAM, 0, 0, 0, 0});
  EXPECT_TRUE(sock.killed || sock.ret == -EPERM || sock.ret == -EACCES) << sock.ret;
  EXPECT_EQ(sock.signal, SIGSYS);
  inject.Detach();
  EXPECT_TRUE(d_.WaitForLog("reason=worker_crashed", 30, from)) << d_.Log();
  EXPECT_EQ(Sftp("alice", "get own " + d_.dir().Sub("own.back") + "\n").exit_code, 0);
  EXPECT_EQ(Sha(d_.dir().Sub("own.back")), Sha(d_.dir().Sub("own")));
}

// SIGSEGV and SIGKILL to one session's worker while another session transfers a file: the
// transfer completes intact, the killed session is recorded as worker_crashed.
TEST_F(ConfinementTest, WorkerCrashEndsOnlyItsSession) {
  CrashOneSessionDuringAnother(/*transport=*/false, "worker_crashed");
}

// The transport opens no file at all and creates no socket: before any byte of the client (a
// connection that has sent nothing) and after the login (a session serving SFTP), not even its
// own account's files.
TEST_F(ConfinementTest, TransportOpensNoFileAndCreatesNoSocket) {
  if (!SyscallInjector::Supported()) {
    GTEST_SKIP() << "the syscall injector knows x86_64 only";
  }
  WriteFile(d_.dir().Sub("own"), "alice's own file\n");
  ASSERT_EQ(Sftp("alice", "put " + d_.dir().Sub("own") + " own\n").exit_code, 0) << d_.Log();
  ASSERT_EQ(Sftp("bob", "put " + d_.dir().Sub("own") + " secret\n").exit_code, 0);
  std::vector<std::string> forbidden = Forbidden();
  forbidden.push_back(Home("alice") + "/own");
  forbidden.push_back(Home("bob") + "/secret");
  auto prove = [&](pid_t transport, const char* when) {
    SCOPED_TRACE(when);
    ExpectConfinedStatus(transport);
    SyscallInjector inject;
    ASSERT_TRUE(inject.Attach(transport)) << inject.error();
    for (const std::string& path : forbidden) {
      auto o = inject.OpenAt(path, O_RDONLY);
      ASSERT_FALSE(o.killed) << path;
      EXPECT_EQ(o.ret, -EACCES) << path;
    }
    auto create = inject.OpenAt(Home("alice") + "/planted", O_WRONLY | O_CREAT);
    ASSERT_FALSE(create.killed);
    EXPECT_EQ(create.ret, -EACCES);
    EXPECT_FALSE(std::filesystem::exists(Home("alice") + "/planted"));
    for (int family : {AF_INET, AF_UNIX}) {
      auto sock =
          inject.Syscall(SYS_socket, {static_cast<uint64_t>(family), SOCK_STREAM, 0, 0, 0, 0});
      ASSERT_FALSE(sock.killed);
      EXPECT_EQ(sock.ret, -EACCES) << family;
    }
    // No program can be run: execve is not on the list at all, and kills.
    auto exec = inject.Syscall(SYS_execve, {0, 0, 0, 0, 0, 0});
    EXPECT_TRUE(exec.killed);
    EXPECT_EQ(exec.signal, SIGSYS);
  };

  // A spare, waiting for a connection.
  std::set<pid_t> spares = WaitForSpares(d_.pid(), 2);
  ASSERT_EQ(spares.size(), 2u);
  pid_t spare = *spares.begin();
  ASSERT_TRUE(WaitBlockedIn(spare, SYS_recvmsg));  // waiting for its Hello
  prove(spare, "a spare");

  // Before authentication: a TCP connection that has sent nothing.
  std::set<pid_t> before = Transports(d_.pid());
  int raw = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(raw, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(d_.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(raw, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  pid_t pre_auth = WaitForNew(before, [this] { return Transports(d_.pid()); });
  ASSERT_GT(pre_auth, 0) << d_.Log();
  ASSERT_TRUE(WaitBlockedIn(pre_auth, SYS_poll));  // waiting for the client's version line
  prove(pre_auth, "before the login");
  close(raw);

  // After the login, serving SFTP.
  before = Transports(d_.pid());
  ASSERT_GT(OpenIdleSession("alice"), 0);
  pid_t serving = WaitForNew(before, [this] { return Transports(d_.pid()); });
  ASSERT_GT(serving, 0);
  ASSERT_TRUE(WaitBlockedIn(serving, SYS_poll));
  std::size_t from = d_.Log().size();
  prove(serving, "after the login");
  EXPECT_TRUE(d_.WaitForLog("reason=transport_crashed", 30, from)) << d_.Log();
  EXPECT_EQ(Sftp("alice", "get own " + d_.dir().Sub("own.back") + "\n").exit_code, 0);
  EXPECT_EQ(Sha(d_.dir().Sub("own.back")), Sha(d_.dir().Sub("own")));
}

// Spare transports (server.spare_transports, 2 by default) wait confined and hold no descriptor
// of the monitor's but their control socket; spares killed while waiting are reaped and
// replaced, and logins go on meanwhile; the daemon's stop ends them.
TEST_F(ConfinementTest, SparesHoldNothingAndAreReplaced) {
  std::set<pid_t> spares = WaitForSpares(d_.pid(), 2);
  ASSERT_EQ(spares.size(), 2u) << d_.Log();
  for (pid_t p : spares) {
    ASSERT_TRUE(WaitBlockedIn(p, SYS_recvmsg)) << p;  // started, confined, waiting for a Hello
    ExpectConfinedStatus(p);
    std::set<std::string> fds;
    for (const auto& e :
         std::filesystem::directory_iterator("/proc/" + std::to_string(p) + "/fd")) {
      fds.insert(e.path().filename());
    }
    EXPECT_EQ(fds, (std::set<std::string>{"0", "1", "2", "4"})) << p;
  }
  for (pid_t p : spares) {
    ASSERT_EQ(kill(p, SIGKILL), 0);
  }
  // The next logins get transports all the same; the dead spares are reaped, two new ones wait.
  for (int i = 0; i < 3; ++i) {
    auto r = Sftp("alice", "pwd\n");
    EXPECT_EQ(r.exit_code, 0) << r.err << d_.Log();
  }
  std::set<pid_t> now = WaitForSpares(d_.pid(), 2);
  EXPECT_EQ(now.size(), 2u);
  for (pid_t p : spares) {
    EXPECT_EQ(now.count(p), 0u);
    EXPECT_NE(StatusField(p, "PPid"), std::to_string(d_.pid())) << "spare " << p << " not reaped";
  }
  ASSERT_EQ(d_.Stop(SIGTERM), 0);
  for (pid_t p : now) {
    EXPECT_EQ(StatusField(p, "Name"), "") << "spare " << p << " outlived the daemon";
  }
}

// SIGSEGV and SIGKILL to one connection's transport while another session transfers a file:
// the transfer completes intact, the killed session is recorded as transport_crashed, and its
// worker goes away with it.
TEST_F(ConfinementTest, TransportCrashEndsOnlyItsSession) {
  CrashOneSessionDuringAnother(/*transport=*/true, "transport_crashed");
}

// A frame error from the client (a length over the maximum) ends the session: the worker
// reports it and the session is recorded as protocol_error, not as a crash.
TEST_F(ConfinementTest, FrameErrorEndsTheSessionAsProtocolError) {
  WriteFile(d_.dir().Sub("bad_frame.py"), R"(import sys, paramiko
t = paramiko.Transport(("127.0.0.1", int(sys.argv[1])))
t.connect(username="alice", password=open(sys.argv[2]).read().strip())
c = t.open_session()
c.invoke_subsystem("sftp")
c.sendall(b"\xff\xff\xff\xff")
c.settimeout(30)
while c.recv(4096):
    pass
print("closed")
)");
  auto r = RunCommand("/usr/bin/python3 '" + d_.dir().Sub("bad_frame.py") + "' " +
                      std::to_string(d_.port()) + " '" + d_.dir().Sub("pw") + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "closed\n");
  EXPECT_TRUE(d_.WaitForLog("reason=protocol_error")) << d_.Log();
  EXPECT_EQ(EndReasons("alice"), std::vector<std::string>{"protocol_error"});
}

// A client that asks for 12.5 MiB of reads and disconnects without reading the replies: the
// worker, blocked writing them, is drained at the end of the session, reports and exits by
// itself (it is not killed).
TEST_F(ConfinementTest, WorkerBlockedOnRepliesExitsCleanlyWhenTheClientLeaves) {
  RunCommand("head -c 16777216 /dev/urandom > '" + d_.dir().Sub("big") + "'");
  ASSERT_EQ(Sftp("alice", "put " + d_.dir().Sub("big") + " big\n").exit_code, 0);
  WriteFile(d_.dir().Sub("flood_reads.py"), R"(import struct, sys, paramiko
t = paramiko.Transport(("127.0.0.1", int(sys.argv[1])))
t.connect(username="alice", password=open(sys.argv[2]).read().strip())
c = t.open_session()
c.invoke_subsystem("sftp")
def packet(body):
    c.sendall(struct.pack(">I", len(body)) + body)
def reply():
    n = struct.unpack(">I", c.recv(4))[0]
    body = b""
    while len(body) < n:
        body += c.recv(n - len(body))
    return body
def string(b):
    return struct.pack(">I", len(b)) + b
packet(struct.pack(">BI", 1, 3))
reply()
packet(struct.pack(">BI", 3, 1) + string(b"big") + struct.pack(">II", 1, 0))
r = reply()
assert r[0] == 102, r
handle = r[9:9 + struct.unpack(">I", r[5:9])[0]]
for i in range(400):
    packet(struct.pack(">BI", 5, 2 + i) + string(handle) + struct.pack(">QI", i * 32768, 32768))
t.close()
print("left")
)");
  std::size_t from = d_.Log().size();
  auto r = RunCommand("/usr/bin/python3 '" + d_.dir().Sub("flood_reads.py") + "' " +
                      std::to_string(d_.port()) + " '" + d_.dir().Sub("pw") + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(d_.WaitForLog("session ended", 30, from)) << d_.Log();
  EXPECT_EQ(d_.Log().find("sftp worker killed by a signal", from), std::string::npos) << d_.Log();
  EXPECT_EQ(d_.Log().find("sftp worker failed", from), std::string::npos) << d_.Log();
}

}  // namespace
}  // namespace sftplc::testing
