/* grpc_absl.cc: the one C++ file, because abseil's switches are C++ only (see
 * grpc_absl.h). Built without exceptions or RTTI, it needs nothing from the C++
 * runtime, so C programs link it as they link the rest of the library. */
#include "grpc/grpc_absl.h"

#include <absl/synchronization/mutex.h>

void grpc_absl_no_deadlock_detection(void)
{
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}
