#pragma once
/// Exceptions thrown by lightning.
#include <stdexcept>
#include <string>

namespace lightning {

/// Misuse of the library: a flag, argument or hook used in a way that is not supported.
/// The message names the flag or file, the value given and what is accepted.
class MisconfigurationException : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A checkpoint file that cannot be written or read: the message names the path and the
/// problem (missing, truncated, corrupted, not a checkpoint, disk full, not writable).
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A distributed run that cannot go on: the rendezvous could not be made, or a collective
/// failed because another process stopped. The message names the operation, this process's rank
/// and, when it reported one, the rank that failed first and its error.
class DistributedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace lightning
