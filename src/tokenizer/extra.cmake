# The tokenizer benchmark finds the fixture strings and the real tokenizer.json in the shared
# folder, like the tests do.
if(TARGET tokenizer_bench AND SMOL_SHARED_DIR)
  target_compile_definitions(tokenizer_bench PRIVATE SMOL_BENCH_SHARED_DIR="${SMOL_SHARED_DIR}")
endif()
