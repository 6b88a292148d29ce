# A database engine's API appears only inside its backend: sqlite3_* in
# lib/src/store_sqlite*.{c,h}, libpq's PQ* in lib/src/store_pg.c. Every other C source of
# the project (lib, components, gateway, all-in-one, benchmarks) is written against
# lib/include/hausbus/store.h. Run: cmake -DROOT=<source dir> -P tests/engine_apis.cmake
file(GLOB_RECURSE sources RELATIVE ${ROOT}
     ${ROOT}/lib/*.c ${ROOT}/lib/*.h ${ROOT}/components/*.c ${ROOT}/components/*.h
     ${ROOT}/gateway/*.c ${ROOT}/gateway/*.h ${ROOT}/allinone/*.c ${ROOT}/allinone/*.h
     ${ROOT}/bench/*.c)
set(found "")
foreach(source ${sources})
  file(STRINGS ${ROOT}/${source} sqlite_lines REGEX "sqlite3_|<sqlite3\\.h>")
  if(sqlite_lines AND NOT source MATCHES "^lib/src/store_sqlite[^/]*\\.[ch]$")
    list(GET sqlite_lines 0 line)
    string(APPEND found "\n  ${source}: ${line}")
  endif()
  file(STRINGS ${ROOT}/${source} pq_lines REGEX "[^A-Za-z_]PQ[a-z][A-Za-z]*\\(|<libpq-fe\\.h>")
  if(pq_lines AND NOT source STREQUAL "lib/src/store_pg.c")
    list(GET pq_lines 0 line)
    string(APPEND found "\n  ${source}: ${line}")
  endif()
endforeach()
list(LENGTH sources n)
if(n LESS 20)
  message(FATAL_ERROR "found only ${n} sources under ${ROOT}: wrong ROOT?")
endif()
if(found)
  message(FATAL_ERROR "a database engine's API outside its backend:${found}")
endif()
message(STATUS "${n} sources: sqlite3_* only in lib/src/store_sqlite*, PQ* only in lib/src/store_pg.c")
