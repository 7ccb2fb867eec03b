// CPython plumbing for the mer_edge C API: owned references, the GIL, the
// embedded interpreter's start, and Python exceptions -> status + message.
//
// Every owned PyObject* lives in a Ref, which drops it on scope exit.  Declare
// the Gil guard before the Refs it protects, so they are released while the
// GIL is still held.
#ifndef MER_EDGE_C_PYTHON_SUPPORT_H_
#define MER_EDGE_C_PYTHON_SUPPORT_H_

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string>
#include <utility>

#include "mer_edge/mer_edge.h"

namespace mer_edge_c {

// ---------------------------------------------------------------------------
// Small RAII helpers
// ---------------------------------------------------------------------------

// An owned reference.  Constructing from a raw pointer steals it.
class Ref {
 public:
  Ref() = default;
  explicit Ref(PyObject* object) : object_(object) {}
  Ref(Ref&& other) noexcept : object_(other.release()) {}
  Ref& operator=(Ref&& other) noexcept {
    if (this != &other) {
      Py_XDECREF(object_);
      object_ = other.release();
    }
    return *this;
  }
  Ref(const Ref&) = delete;
  Ref& operator=(const Ref&) = delete;
  ~Ref() { Py_XDECREF(object_); }

  PyObject* get() const { return object_; }
  PyObject* release() {
    PyObject* object = object_;
    object_ = nullptr;
    return object;
  }
  explicit operator bool() const { return object_ != nullptr; }

 private:
  PyObject* object_ = nullptr;
};

// Holds the GIL for its lifetime, from any thread.
class Gil {
 public:
  Gil() : state_(PyGILState_Ensure()) {}
  ~Gil() { PyGILState_Release(state_); }
  Gil(const Gil&) = delete;
  Gil& operator=(const Gil&) = delete;

 private:
  PyGILState_STATE state_;
};

// The outcome of an internal step: a status and, on failure, a message.
struct Outcome {
  MerEdgeStatus status = MER_EDGE_OK;
  std::string message;

  static Outcome ok() { return {}; }
  static Outcome fail(MerEdgeStatus status, std::string message) {
    return {status, std::move(message)};
  }
  bool failed() const { return status != MER_EDGE_OK; }
};

// Starts the interpreter the first time it is called (once per process,
// thread-safe) unless the host already runs one, and hands the GIL back so any
// thread can take it with Gil.  The interpreter is never finalised: numpy,
// OpenCV, ONNX Runtime and MediaPipe do not survive re-initialisation.
// Returns the start's outcome, the same on every call.
const Outcome& start_python();

// UTF-8 text of a str object / of str(object); never fails (GIL held).
std::string utf8_of(PyObject* text);
std::string str_of(PyObject* object);

// isinstance(object, cls), false when cls is NULL (GIL held).
bool is_instance(PyObject* object, PyObject* cls);

// Takes the pending Python exception (GIL held); returns the instance.
Ref take_exception();

// Where a failed Python call came from decides what a plain ValueError means.
enum class Origin {
  kCallerInput,  // parsing the caller's options: ValueError/TypeError are theirs
  kEngine,       // inside the engine: only mer_edge's own errors blame the caller
};

// mer_edge's exception classes (borrowed); all NULL before mer_edge is imported.
struct ErrorClasses {
  PyObject* base = nullptr;     // mer_edge.MerEdgeError
  PyObject* model = nullptr;    // mer_edge.ModelError
  PyObject* backend = nullptr;  // mer_edge.BackendError
};

// Turns a Python exception into an Outcome (GIL held):
//   ModelError -> MODEL_ERROR, BackendError -> BACKEND_ERROR, any other
//   MerEdgeError (InputError, SourceError, ...) -> INVALID_ARGUMENT with the
//   message unchanged; a ValueError/TypeError from the caller's input ->
//   INVALID_ARGUMENT; anything else is a RUNTIME_ERROR that names the type and
//   where it was raised.  `prefix` starts the message.
Outcome describe(const Ref& exception, Origin origin, const ErrorClasses& classes,
                 const std::string& prefix = "");

}  // namespace mer_edge_c

#endif  // MER_EDGE_C_PYTHON_SUPPORT_H_
