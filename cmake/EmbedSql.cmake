# Turns sql/<backend>/NNNN_name.sql into a generated C++ source holding every migration, so the
# binaries need no files at run time. The list is explicit: a new migration is added here.
set(SFTPLC_MIGRATIONS
  0001_foundation
  0002_auth
  0003_usage
  0004_lifecycle
  0005_sweep_indexes
  0006_sweep_failures
  0007_retention
)

function(sftplc_embed_sql out_var)
  set(out "${CMAKE_BINARY_DIR}/generated/migrations_data.cc")
  set(deps "")
  foreach(backend sqlite postgresql)
    foreach(m ${SFTPLC_MIGRATIONS})
      list(APPEND deps "${CMAKE_SOURCE_DIR}/sql/${backend}/${m}.sql")
    endforeach()
  endforeach()
  string(REPLACE ";" "," migrations_csv "${SFTPLC_MIGRATIONS}")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -DSRC=${CMAKE_SOURCE_DIR}/sql -DOUT=${out}
            -DMIGRATIONS=${migrations_csv} -P ${CMAKE_SOURCE_DIR}/cmake/embed_sql_run.cmake
    DEPENDS ${deps} ${CMAKE_SOURCE_DIR}/cmake/embed_sql_run.cmake
    COMMENT "Embedding SQL migrations"
    VERBATIM)
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()
