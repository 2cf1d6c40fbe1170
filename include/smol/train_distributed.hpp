#pragma once
// Data-parallel training over MPI: each rank runs its share of the global batch and the
// gradients are summed across ranks. Without mpirun (or without MPI at build time) this is a
// single process and every collective is a no-op.
#include <cstddef>

namespace smol {

class Distributed {
 public:
  // Joins the MPI job when the process was started by an MPI launcher; a launcher with more
  // than one rank and a build without MPI is an error.
  Distributed();
  ~Distributed();
  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }

  void allreduce_sum(float* data, size_t n);
  void allreduce_sum(double* data, size_t n);
  void barrier();
  // Ends every rank at once: a rank that fails alone would leave the others waiting forever.
  [[noreturn]] void abort(int code);

  static bool built_with_mpi();

 private:
  int rank_ = 0;
  int size_ = 1;
  bool initialized_ = false;
};

}  // namespace smol
