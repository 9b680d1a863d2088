#include "tests/testing/service_user.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "tests/testing/test_env.h"

namespace sftplc::testing {
namespace {

ServiceUser LookUp() {
  ServiceUser u;
  if (geteuid() != 0) {
    struct passwd* pw = getpwuid(geteuid());
    u.name = pw != nullptr ? pw->pw_name : std::to_string(geteuid());
    u.uid = geteuid();
    u.gid = getegid();
    return u;
  }
  struct passwd* pw = getpwnam(kServiceUserName);
  if (pw == nullptr) {
    // Two suites starting at once may both try: the second useradd fails ("already exists")
    // and the look-up below finds the user the first one made.
    RunCommand(std::string("useradd --system --no-create-home --home-dir /nonexistent "
                           "--shell /usr/sbin/nologin --user-group ") +
               kServiceUserName);
    pw = getpwnam(kServiceUserName);
  }
  if (pw == nullptr || pw->pw_uid == 0) {
    std::fprintf(stderr,
                 "tests: the service user '%s' does not exist and useradd could not create it; "
                 "create it (useradd --system --user-group %s) or run the tests as a non-root "
                 "user\n",
                 kServiceUserName, kServiceUserName);
    std::abort();
  }
  u.name = pw->pw_name;
  u.uid = pw->pw_uid;
  u.gid = pw->pw_gid;
  u.drop = true;
  return u;
}

// Drops the capabilities that let root ignore file modes, for the calling thread only.
bool DropDacCapabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) {
    return false;
  }
  for (int cap : {CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER}) {
    const unsigned bit = 1u << (cap % 32);
    data[cap / 32].effective &= ~bit;
    data[cap / 32].permitted &= ~bit;
    data[cap / 32].inheritable &= ~bit;
  }
  return syscall(SYS_capset, &header, data) == 0;
}

}  // namespace

const ServiceUser& TestServiceUser() {
  static const ServiceUser user = LookUp();
  return user;
}

std::string AsServiceUser() {
  const ServiceUser& u = TestServiceUser();
  if (!u.drop) {
    return "";
  }
  return "setpriv --reuid=" + std::to_string(u.uid) + " --regid=" + std::to_string(u.gid) +
         " --clear-groups ";
}

void GiveToServiceUser(const std::string& path) {
  const ServiceUser& u = TestServiceUser();
  if (!u.drop) {
    return;
  }
  std::error_code ec;
  lchown(path.c_str(), u.uid, u.gid);
  for (auto it = std::filesystem::recursive_directory_iterator(
           path, std::filesystem::directory_options::skip_permission_denied, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    lchown(it->path().c_str(), u.uid, u.gid);
  }
}

bool DropToServiceUserInChild(const ServiceUser& user) {
  if (!user.drop) {
    return true;
  }
  return setgroups(0, nullptr) == 0 && setresgid(user.gid, user.gid, user.gid) == 0 &&
         setresuid(user.uid, user.uid, user.uid) == 0;
}

void OnThreadWithoutDacCapabilities(const std::string& scratch, const std::function<void()>& fn) {
  ASSERT_EQ(mkdir(scratch.c_str(), 0), 0) << scratch;
  std::thread t([&] {
    ASSERT_TRUE(DropDacCapabilities());
    int fd = open(scratch.c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_LT(fd, 0) << "file modes do not apply: the test would prove nothing";
    ASSERT_EQ(errno, EACCES);
    fn();
  });
  t.join();
  rmdir(scratch.c_str());
}

}  // namespace sftplc::testing
