/* grpc_absl.h: what the gRPC transport sets in abseil, the library gRPC's core
 * locks with. Its only switches are C++, so grpc_absl.cc is the project's one
 * C++ file; this header is what C sees of it. */
#ifndef TRITON_GRPC_ABSL_H
#define TRITON_GRPC_ABSL_H

#ifdef __cplusplus
extern "C" {
#endif

/* Turns off abseil's lock-order deadlock detector for the process. Debian
 * builds abseil without NDEBUG, which leaves that debugging aid on: every
 * absl::Mutex lock and unlock then updates a per-thread list of held locks and
 * a global graph (docs/GRPC_CORE.md, "Abseil's deadlock detector"). Call it
 * before gRPC starts; calling it again is harmless. */
void grpc_absl_no_deadlock_detection(void);

#ifdef __cplusplus
}
#endif

#endif
