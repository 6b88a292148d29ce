# Writes the file IN into OUT as C: `const char NAME[]` (the bytes plus a NUL, so it can
# also be used as a string) and `const size_t NAME_len` (without the NUL). The gateway
# serves documents it carries this way (openapi.json) without reading files at run time.
#   cmake -DIN=... -DOUT=... -DNAME=... -P embed.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR len "${hex_len} / 2")
# 16 bytes per line keeps the generated file readable in a compiler message.
string(REGEX REPLACE "([0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f])"
       "\\1\n" hex "${hex}")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
get_filename_component(in_name "${IN}" NAME)
file(WRITE "${OUT}.tmp"
     "/* Generated from ${in_name} by gateway/embed.cmake: do not edit. */\n"
     "#include <stddef.h>\n\n"
     "extern const char ${NAME}[];\n"
     "extern const size_t ${NAME}_len;\n"
     "const char ${NAME}[] = {\n${bytes}0x00};\n"
     "const size_t ${NAME}_len = ${len};\n")
# Only a changed document rebuilds what depends on it.
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
