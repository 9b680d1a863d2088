#pragma once

// What a store implementation (.cc file) needs to run SQL on the session that
// db::Database::Write/Read hands it: SOCI itself and db::OneShot. Include it only from .cc
// files, never from a public header.

#include <soci/soci.h>

#include "sftpd/core/db/database.h"

namespace sftplc::db {

// A statement for one execution, with its into() and use() elements: run it with execute()
// and fetch() rows, or execute(true) and read get_affected_rows(). On PostgreSQL it costs one
// round trip (PQexecParams) where `session.prepare << ...` costs three (PQprepare,
// PQexecPrepared, and DEALLOCATE when the statement goes); on SQLite the two are the same.
// Use `session.prepare` only for a statement executed many times. May throw soci::soci_error
// (call inside Write/Read).
template <typename... Elements>
soci::statement OneShot(soci::session& s, const std::string& sql, Elements&&... elements) {
  soci::statement st(s);
  (st.exchange(std::forward<Elements>(elements)), ...);
  st.alloc();
  st.prepare(sql, soci::details::st_one_time_query);
  st.define_and_bind();
  return st;
}

}  // namespace sftplc::db
