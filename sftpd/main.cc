// sftpd: flags -> config -> logging -> run. Nothing else lives here.
#include <cstdio>

int main() {
  std::fputs("sftpd: not built yet\n", stderr);
  return 1;
}
