// sftpctl: the admin CLI.
#include <cstdio>

int main() {
  std::fputs("sftpctl: not built yet\n", stderr);
  return 1;
}
