# MPI data-parallel training (`mpirun -np N smol train ...`) is built in when MPI is found;
# without it smol trains in a single process and says so if launched under mpirun.
find_package(MPI COMPONENTS CXX QUIET)
if(MPI_CXX_FOUND)
  target_link_libraries(smol_train PUBLIC MPI::MPI_CXX)
  target_compile_definitions(smol_train PRIVATE SMOL_HAVE_MPI=1)
  if(TARGET test_cli AND MPIEXEC_EXECUTABLE)
    target_compile_definitions(test_cli PRIVATE SMOL_MPIEXEC="${MPIEXEC_EXECUTABLE}")
  endif()
  message(STATUS "smol: MPI found (${MPIEXEC_EXECUTABLE}): data-parallel training enabled")
else()
  message(STATUS "smol: MPI not found: smol train runs single-process only "
                 "(install libopenmpi-dev openmpi-bin for mpirun support)")
endif()
