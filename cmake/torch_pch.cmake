# One precompiled header for libtorch (core/torch_api.h, the part of it the project uses), shared
# by every target that includes it.
# Targets call cs_use_torch(target): it links Torch and reuses the shared PCH.
# REUSE_FROM needs identical compile flags, so the PCH target gets the same warnings.
add_library(circuitscope_torch_pch OBJECT ${CMAKE_CURRENT_LIST_DIR}/pch_dummy.cpp)
target_link_libraries(circuitscope_torch_pch PUBLIC ${TORCH_LIBRARIES} circuitscope::warnings)
if(CS_USE_PCH)
  target_precompile_headers(circuitscope_torch_pch PRIVATE ${PROJECT_SOURCE_DIR}/core/torch_api.h)
endif()

function(cs_use_torch target)
  target_link_libraries(${target} PUBLIC ${TORCH_LIBRARIES})
  if(CS_USE_PCH)
    target_precompile_headers(${target} REUSE_FROM circuitscope_torch_pch)
  endif()
endfunction()
