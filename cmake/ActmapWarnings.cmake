# Strict warnings and optional sanitizers on actmap's own targets only (never on dependencies).
function(actmap_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wno-unused-parameter)
  if(ACTMAP_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# Sanitizers apply to everything built here (all of it is actmap's own code; dependencies are
# prebuilt packages), so static libraries and the executables that link them agree.
if(ACTMAP_SANITIZE)
  add_compile_options(-fsanitize=${ACTMAP_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${ACTMAP_SANITIZE})
endif()
