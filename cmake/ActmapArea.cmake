# One static library per area of the core (docs/architecture.md), linked only along the arrows
# between areas. tools/check_layers.py (run by every build) checks the includes and these links.
#
#   actmap_area(NAME
#     SOURCES ...        files that need no LibTorch: also built for the fuzzers (ACTMAP_BASE_ONLY)
#     TORCH_SOURCES ...  files that use LibTorch (ATen)
#     USES area ...      the areas below this one that it uses (each becomes actmap_<area>, PUBLIC)
#     PRIVATE_LIBS ...)  third-party libraries only this area's files use
#
# Files with LibTorch share one precompiled header (model/pch.h); the others skip it.
function(actmap_area name)
  cmake_parse_arguments(A "" "" "SOURCES;TORCH_SOURCES;USES;PRIVATE_LIBS" ${ARGN})
  set(sources ${A_SOURCES})
  if(NOT ACTMAP_BASE_ONLY)
    list(APPEND sources ${A_TORCH_SOURCES})
  endif()
  if(NOT sources)
    return()  # a fuzz build of an area that is all LibTorch
  endif()
  set(target actmap_${name})
  add_library(${target} STATIC ${sources})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/include PRIVATE ${PROJECT_SOURCE_DIR}/src/core)
  target_link_libraries(${target} PUBLIC nlohmann_json::nlohmann_json)
  foreach(used ${A_USES})
    if(TARGET actmap_${used})
      target_link_libraries(${target} PUBLIC actmap_${used})
    elseif(NOT ACTMAP_BASE_ONLY)
      message(FATAL_ERROR "actmap_${name} uses actmap_${used}, which is not defined yet: add the areas bottom-up")
    endif()  # a fuzz build leaves out the areas that are all LibTorch
  endforeach()
  if(A_PRIVATE_LIBS)
    target_link_libraries(${target} PRIVATE ${A_PRIVATE_LIBS})
  endif()
  if(A_TORCH_SOURCES AND NOT ACTMAP_BASE_ONLY)
    if(name STREQUAL "model")
      target_precompile_headers(${target} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/pch.h)
    else()
      target_precompile_headers(${target} REUSE_FROM actmap_model)
    endif()
    if(A_SOURCES)
      set_source_files_properties(${A_SOURCES} TARGET_DIRECTORY ${target} PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
    endif()
  endif()
  actmap_target_defaults(${target})
endfunction()
