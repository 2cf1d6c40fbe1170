// MPI collectives for data-parallel training (compiled in when CMake finds MPI).
#include "smol/train_distributed.hpp"

#include <algorithm>
#include <cstdlib>

#include "smol/error.hpp"

#ifdef SMOL_HAVE_MPI
#include <mpi.h>
#endif

namespace smol {

namespace {

// Open MPI, MPICH/Hydra and Slurm's PMI all announce the job size in the environment.
int launcher_world_size() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    if (const char* v = std::getenv(var)) return std::max(1, std::atoi(v));
  }
  return 0;
}

}  // namespace

bool Distributed::built_with_mpi() {
#ifdef SMOL_HAVE_MPI
  return true;
#else
  return false;
#endif
}

Distributed::Distributed() {
  const int launched = launcher_world_size();
  if (launched == 0) return;
#ifdef SMOL_HAVE_MPI
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  initialized_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
#else
  if (launched > 1) {
    throw Error("started by mpirun with several ranks, but this smol was built without MPI "
                "(install libopenmpi-dev and rebuild)");
  }
#endif
}

Distributed::~Distributed() {
#ifdef SMOL_HAVE_MPI
  if (initialized_) MPI_Finalize();
#endif
}

void Distributed::allreduce_sum(float* data, size_t n) {
#ifdef SMOL_HAVE_MPI
  if (size_ == 1) return;
  constexpr size_t kChunk = size_t{1} << 28;  // MPI counts are ints
  for (size_t i = 0; i < n; i += kChunk) {
    MPI_Allreduce(MPI_IN_PLACE, data + i, static_cast<int>(std::min(kChunk, n - i)), MPI_FLOAT, MPI_SUM,
                  MPI_COMM_WORLD);
  }
#else
  (void)data, (void)n;
#endif
}

void Distributed::allreduce_sum(double* data, size_t n) {
#ifdef SMOL_HAVE_MPI
  if (size_ == 1) return;
  MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
#else
  (void)data, (void)n;
#endif
}

void Distributed::barrier() {
#ifdef SMOL_HAVE_MPI
  if (size_ > 1) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

void Distributed::abort(int code) {
#ifdef SMOL_HAVE_MPI
  if (initialized_) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

}  // namespace smol
