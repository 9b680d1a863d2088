# Every dependency comes from a Debian 12 package (scripts/setup installs them).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(libssh 0.10 CONFIG REQUIRED)          # imported target: ssh
# The transport (sftpd-session) runs libssh's libgcrypt build (Debian: libssh-gcrypt-4, the same
# libssh source and headers): a process exec'd per connection pays for OpenSSL 3's relocated
# tables and provider set-up on its own, twice the memory of a transport on libgcrypt
# (docs/architecture.md, "The transport's crypto library"). The -dev packages of the two builds
# conflict; their headers are the same, so the transport compiles against libssh-dev's.
find_library(SFTPLC_LIBSSH_GCRYPT NAMES libssh-gcrypt.so.4 REQUIRED)
add_library(sftplc_libssh_gcrypt SHARED IMPORTED)
set_target_properties(sftplc_libssh_gcrypt PROPERTIES IMPORTED_LOCATION "${SFTPLC_LIBSSH_GCRYPT}")
pkg_check_modules(LIBGCRYPT REQUIRED IMPORTED_TARGET libgcrypt)  # its random generator (session_main.cc)
get_target_property(SFTPLC_LIBSSH_INCLUDE ssh INTERFACE_INCLUDE_DIRECTORIES)
if(SFTPLC_LIBSSH_INCLUDE)
  set_target_properties(sftplc_libssh_gcrypt PROPERTIES
                        INTERFACE_INCLUDE_DIRECTORIES "${SFTPLC_LIBSSH_INCLUDE}")
endif()
pkg_check_modules(ARGON2 REQUIRED IMPORTED_TARGET libargon2)
pkg_check_modules(LIBCRYPTO REQUIRED IMPORTED_TARGET libcrypto)  # SHA-256 key fingerprints (OpenSSL, as libssh)
find_package(fmt 9 CONFIG REQUIRED)                # the system fmt that libspdlog is built against
find_package(spdlog 1.10 CONFIG REQUIRED)
find_package(CURL REQUIRED)
find_package(nlohmann_json 3 CONFIG REQUIRED)
find_package(toml11 3 CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)      # ::core, ::pull (civetweb); Debian ships no version file
find_package(SQLite3 REQUIRED)
find_package(PostgreSQL REQUIRED)
find_package(Boost 1.74 REQUIRED)                  # soci/bind-values.h includes boost/fusion
find_package(GTest CONFIG)
find_package(benchmark CONFIG QUIET)

# libsoci-dev ships neither a CMake config nor a .pc file.
find_path(SOCI_INCLUDE_DIR soci/soci.h REQUIRED)
find_library(SOCI_CORE_LIB soci_core REQUIRED)
find_library(SOCI_SQLITE3_LIB soci_sqlite3 REQUIRED)
find_library(SOCI_POSTGRESQL_LIB soci_postgresql REQUIRED)
add_library(sftplc_soci INTERFACE)
target_include_directories(sftplc_soci SYSTEM INTERFACE ${SOCI_INCLUDE_DIR} ${PostgreSQL_INCLUDE_DIRS})
target_link_libraries(sftplc_soci INTERFACE ${SOCI_SQLITE3_LIB} ${SOCI_POSTGRESQL_LIB} ${SOCI_CORE_LIB}
                                            SQLite::SQLite3 PostgreSQL::PostgreSQL Boost::headers)
