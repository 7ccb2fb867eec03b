/* mer_edge C API: drive the mer_edge micro-expression engine from C or C++.
 *
 * The engine itself is the mer_edge Python package; this library embeds
 * CPython (or joins the interpreter of a host that already runs one) and
 * exposes the push mode of mer_edge.Engine through a small C ABI.
 *
 * Conventions shared by every function:
 *
 *  - Every fallible call returns a MerEdgeStatus.  On failure, and when
 *    `error_msg` is not NULL, `*error_msg` receives a UTF-8 message that the
 *    caller frees with mer_edge_free().  Messages raised by the Python engine
 *    are passed through unchanged.
 *  - Output pointers (`out`, `result_json`, `error_msg`) are set to NULL on
 *    entry, so they hold something only when the call produced it.
 *  - Strings returned to the caller are allocated by this library and freed
 *    with mer_edge_free(); never with free() from another runtime.
 *  - Handles are opaque and validated on every call: using a closed handle
 *    gives MER_EDGE_INVALID_ARGUMENT instead of undefined behaviour.
 *  - Calls on different engines may run concurrently from different threads;
 *    calls on one engine are serialised by the library.
 *  - The embedded interpreter is started on the first mer_edge_engine_create()
 *    and lives until the process exits (it is never re-initialised).  Set
 *    PYTHONPATH/PYTHONHOME as for `python3`; set MER_EDGE_PYTHON to the path
 *    of a virtual environment's python executable to use that environment.
 */
#ifndef MER_EDGE_MER_EDGE_H_
#define MER_EDGE_MER_EDGE_H_

#include <stdint.h>

#if defined(_WIN32)
#  if defined(MER_EDGE_BUILDING_LIBRARY)
#    define MER_EDGE_EXPORT __declspec(dllexport)
#  else
#    define MER_EDGE_EXPORT __declspec(dllimport)
#  endif
#else
#  define MER_EDGE_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Version of this C ABI (not of the engine); bumped on incompatible changes. */
#define MER_EDGE_C_ABI_VERSION 1

/* An engine: one video stream with its tracked faces. */
typedef struct MerEdgeEngine MerEdgeEngine;

typedef enum {
  MER_EDGE_OK = 0,
  /* The caller passed something invalid: a NULL or closed handle, a bad
   * buffer, stride or size, an unknown option, a non-increasing timestamp
   * (Python: mer_edge.InputError and other ValueError / TypeError). */
  MER_EDGE_INVALID_ARGUMENT,
  /* A model file is missing, lacks mer_edge metadata, or does not match it
   * (Python: mer_edge.ModelError). */
  MER_EDGE_MODEL_ERROR,
  /* An inference backend is unavailable or failed (mer_edge.BackendError). */
  MER_EDGE_BACKEND_ERROR,
  /* Anything else: Python could not start, mer_edge could not be imported,
   * an unexpected exception. */
  MER_EDGE_RUNTIME_ERROR
} MerEdgeStatus;

/* Builds an engine in push mode.
 *
 * `options_json`: NULL, or a JSON object whose keys are fields of
 * mer_edge.EngineOptions, e.g. {"max_faces": 2, "recognize": false,
 * "spotting": {"p": 0.6}}.  Only the keys given are passed on; every default
 * lives in the Python package.  The "spotting" keys are set over the
 * detection parameters the spotting model was calibrated with (they become
 * EngineOptions.spotting_overrides), e.g. {"spotting": {"me_quiet_ratio":
 * null}} turns the still-face check off and keeps the rest.  An unknown key
 * is MER_EDGE_INVALID_ARGUMENT with a message naming it.  `result_callback`
 * cannot be set from C.
 *
 * On success `*out` is a new engine, to be released with
 * mer_edge_engine_close(). */
MER_EDGE_EXPORT MerEdgeStatus mer_edge_engine_create(const char* options_json,
                                                     MerEdgeEngine** out,
                                                     char** error_msg);

/* Processes one frame.
 *
 * `bgr`: `height` rows of `width` 8-bit BGR pixels (3 bytes each), rows
 * `stride_bytes` apart (`stride_bytes >= width * 3`).  The pixels are copied
 * before the call returns; the buffer is not retained.
 * `timestamp_ms` must increase from frame to frame.
 *
 * On success `*result_json` is a JSON object
 *   {"frame": int, "timestamp_ms": float,
 *    "faces":  [FaceTrack.to_dict(), ...],
 *    "events": [MicroExpression.to_dict(), ...]}
 * to be freed with mer_edge_free().  On failure the engine's state is
 * unchanged and it can go on with the next frame. */
MER_EDGE_EXPORT MerEdgeStatus mer_edge_engine_process(MerEdgeEngine* engine,
                                                      const uint8_t* bgr,
                                                      int width, int height,
                                                      int stride_bytes,
                                                      double timestamp_ms,
                                                      char** result_json,
                                                      char** error_msg);

/* Ends the stream: closes every open interval.
 *
 * On success `*result_json` is {"events": [MicroExpression.to_dict(), ...]},
 * to be freed with mer_edge_free(). */
MER_EDGE_EXPORT MerEdgeStatus mer_edge_engine_flush(MerEdgeEngine* engine,
                                                    char** result_json,
                                                    char** error_msg);

/* Releases the engine and its models.  NULL-safe and idempotent: closing a
 * handle that is NULL or already closed does nothing.  Waits for a call in
 * progress on the same engine to finish. */
MER_EDGE_EXPORT void mer_edge_engine_close(MerEdgeEngine* engine);

/* Frees a string returned by this library.  NULL-safe. */
MER_EDGE_EXPORT void mer_edge_free(char* str);

/* The mer_edge package version this library was built for, e.g. "0.1.0".
 * mer_edge_engine_create() refuses a Python package of another version. */
MER_EDGE_EXPORT const char* mer_edge_version(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MER_EDGE_MER_EDGE_H_ */
