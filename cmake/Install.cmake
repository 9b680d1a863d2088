# What `cmake --install` (and so the Debian package, debian/rules) puts on a machine besides
# the programs (each program's install() rule stands next to its add_executable()): the systemd
# unit, the configuration file and the man pages. Paths follow GNUInstallDirs: with
# CMAKE_INSTALL_PREFIX=/usr the configuration goes to /etc.

set(SFTPLC_SERVICE_USER "sftp-lifecycle" CACHE STRING "the system user the unit runs sftpd as")
set(SFTPLC_SYSTEMD_UNITDIR "/lib/systemd/system" CACHE PATH "where the systemd unit goes")
set(SFTPLC_CONFIG_PATH "${CMAKE_INSTALL_FULL_SYSCONFDIR}/sftp-lifecycle/sftpd.toml")

configure_file(dist/sftpd.service.in ${PROJECT_BINARY_DIR}/dist/sftpd.service @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/dist/sftpd.service DESTINATION ${SFTPLC_SYSTEMD_UNITDIR})
install(FILES dist/sftpd.toml DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/sftp-lifecycle)

# Man pages: rendered by pandoc from the same markdown as docs/ (docs/man/*.md holds only the
# NAME/SYNOPSIS head of each page, or the whole page of a program sftpd starts). Without pandoc
# there are no pages (a warning says so).
find_program(PANDOC_PROGRAM pandoc)
set(SFTPLC_MAN_PAGES "")
if(PANDOC_PROGRAM)
  # name section sources...
  function(sftplc_man name section)
    set(out ${PROJECT_BINARY_DIR}/man/${name}.${section})
    set(srcs ${ARGN})
    list(TRANSFORM srcs PREPEND ${PROJECT_SOURCE_DIR}/)
    string(TOUPPER ${name} title)
    add_custom_command(
      OUTPUT ${out}
      COMMAND ${PANDOC_PROGRAM} --standalone --from markdown-smart --to man
              --metadata title=${title} --metadata section=${section}
              --metadata header=sftp-lifecycle
              --metadata footer=sftp-lifecycle\ ${PROJECT_VERSION}
              --metadata date=
              --lua-filter ${PROJECT_SOURCE_DIR}/docs/man/tables-as-lists.lua
              --output ${out} ${srcs}
      DEPENDS ${srcs} ${PROJECT_SOURCE_DIR}/docs/man/tables-as-lists.lua
      COMMENT "man page ${name}(${section})"
      VERBATIM)
    install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
    set(SFTPLC_MAN_PAGES ${SFTPLC_MAN_PAGES} ${out} PARENT_SCOPE)
  endfunction()
  sftplc_man(sftpd 8 docs/man/sftpd.8.md docs/operations.md)
  sftplc_man(sftpctl 8 docs/man/sftpctl.8.md docs/sftpctl.md)
  sftplc_man(sftpd.toml 5 docs/man/sftpd.toml.5.md docs/configuration.md)
  # The programs sftpd starts: a page of their own, no body.
  sftplc_man(sftpd-session 8 docs/man/sftpd-session.8.md)
  sftplc_man(sftpd-sftp 8 docs/man/sftpd-sftp.8.md)
  add_custom_target(man ALL DEPENDS ${SFTPLC_MAN_PAGES})
else()
  message(WARNING "pandoc not found: no man pages (apt-get install pandoc)")
endif()

# Monitoring: the example Prometheus alert rules (with their promtool tests) and the metrics
# reference, side by side in the package's documentation folder.
install(FILES contrib/prometheus/sftpd.rules.yml contrib/prometheus/sftpd.rules.test.yml
              docs/monitoring.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
