# runledger_embed_assets(<out_var> <dir>): turns every file under <dir> into a
# generated C++ source (see server/web_assets.h) and sets <out_var> to it.
# Placeholder until the Activity page lands: embeds nothing.
function(runledger_embed_assets out_var dir)
  set(${out_var} "" PARENT_SCOPE)
endfunction()
