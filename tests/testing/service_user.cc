#include "tests/testing/service_user.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

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

}  // namespace sftplc::testing
