# Use ccache when present. The sloppiness settings let ccache hit on translation units that use
# the precompiled header (otherwise every PCH user is a miss); the base directory and no hashing of
# the build directory let checkouts in other folders (a second worktree, CI's fresh clone) share
# the cache.
find_program(ACTMAP_CCACHE ccache)
if(ACTMAP_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER
      ${CMAKE_COMMAND} -E env CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
      CCACHE_CPP2=true CCACHE_BASEDIR=${CMAKE_SOURCE_DIR} CCACHE_NOHASHDIR=1 ${ACTMAP_CCACHE})
  set(CMAKE_C_COMPILER_LAUNCHER ${CMAKE_CXX_COMPILER_LAUNCHER})
  message(STATUS "actmap: using ccache (${ACTMAP_CCACHE})")
endif()
