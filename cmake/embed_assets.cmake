# runledger_embed_assets(<out_var> <dir> [FILES ...]): turns files into a
# generated C++ source defining server/web_assets.h's FindWebAsset, and sets
# <out_var> to that source. Files are embedded as raw string literals split
# into chunks, so any bytes but NUL survive.
function(runledger_embed_assets out_var dir)
  file(GLOB_RECURSE assets RELATIVE ${dir} CONFIGURE_DEPENDS ${dir}/*)
  set(extra ${ARGN})
  set(generated ${CMAKE_CURRENT_BINARY_DIR}/web_assets_generated.cc)
  set(script ${PROJECT_SOURCE_DIR}/cmake/embed_assets_generate.cmake)
  set(inputs "")
  set(specs "")
  foreach(asset ${assets})
    list(APPEND inputs ${dir}/${asset})
    list(APPEND specs "/${asset}=${dir}/${asset}")
  endforeach()
  foreach(spec ${extra})
    string(REGEX REPLACE "^[^=]*=" "" file_path "${spec}")
    list(APPEND inputs ${file_path})
    list(APPEND specs "${spec}")
  endforeach()
  string(REPLACE ";" "|" specs_arg "${specs}")
  add_custom_command(
    OUTPUT ${generated}
    COMMAND ${CMAKE_COMMAND} -DOUT=${generated} "-DSPECS=${specs_arg}" -P ${script}
    DEPENDS ${inputs} ${script}
    COMMENT "Embedding web assets"
    VERBATIM)
  set(${out_var} ${generated} PARENT_SCOPE)
endfunction()
