// mer_edge C API: embeds CPython and drives mer_edge.Engine (see mer_edge.h).
//
// Threading model
//   * The interpreter is started once (std::call_once) unless the host already
//     runs one, and is never finalised: numpy, OpenCV, ONNX Runtime and
//     MediaPipe do not survive re-initialisation.  After starting it, the
//     starting thread hands the GIL back, so any thread can take it with
//     PyGILState_Ensure().
//   * The GIL is held only while Python objects are touched.  Copying pixels
//     and waiting for locks happen without it, and the engine's native stages
//     (OpenCV, ONNX Runtime, MediaPipe) release it themselves.
//   * Each engine has its own mutex; it is always taken *before* the GIL, never
//     while holding it, so a thread waiting for an engine never blocks the
//     interpreter.
//
// Handles
//   A MerEdgeEngine* is an id into a registry, never a pointer to memory, and
//   ids are not reused.  That is what makes mer_edge_engine_close() idempotent
//   and lets every call reject a closed handle instead of touching freed
//   memory.  `struct MerEdgeEngine` is deliberately never defined.
//
// References
//   Every owned PyObject* lives in a Ref, which drops it on scope exit; the
//   Gil guard is always declared before the Refs it protects, so they are
//   released while the GIL is still held.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mer_edge/mer_edge.h"

#ifndef MER_EDGE_VERSION
#error "define MER_EDGE_VERSION as the mer_edge package version (the build scripts read mer_edge/_version.py)"
#endif

namespace {

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

  static Ref borrow(PyObject* object) {
    Py_XINCREF(object);
    return Ref(object);
  }
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

char* copy_string(const char* text, size_t size) {
  char* out = static_cast<char*>(std::malloc(size + 1));
  if (out == nullptr) return nullptr;
  std::memcpy(out, text, size);
  out[size] = '\0';
  return out;
}

// Writes the outcome's message to *error_msg (when asked for) and returns its
// status: the last step of every entry point.
MerEdgeStatus report(const Outcome& outcome, char** error_msg) {
  if (outcome.failed() && error_msg != nullptr) {
    *error_msg = copy_string(outcome.message.data(), outcome.message.size());
  }
  return outcome.status;
}

void clear_outputs(char** a, char** b) {
  if (a != nullptr) *a = nullptr;
  if (b != nullptr) *b = nullptr;
}

// ---------------------------------------------------------------------------
// The interpreter and the Python objects the library uses
// ---------------------------------------------------------------------------

std::once_flag g_start_once;
Outcome g_start_outcome;  // written once inside g_start_once

void start_interpreter() {
  if (Py_IsInitialized()) return;  // the host runs Python: join it
  PyPreConfig preconfig;
  PyPreConfig_InitPythonConfig(&preconfig);
  preconfig.configure_locale = 0;  // leave the host's locale alone...
  preconfig.utf8_mode = 1;         // ...and read paths and environment as UTF-8
  PyStatus status = Py_PreInitialize(&preconfig);
  PyConfig config;
  PyConfig_InitPythonConfig(&config);  // honours PYTHONPATH, PYTHONHOME, ...
  config.install_signal_handlers = 0;  // SIGINT & co. belong to the host
  config.parse_argv = 0;
  if (const char* python = std::getenv("MER_EDGE_PYTHON"); python != nullptr && *python &&
      !PyStatus_Exception(status)) {
    // Paths are computed from the program name, so a virtual environment's
    // python executable selects that environment's site-packages.
    status = PyConfig_SetBytesString(&config, &config.program_name, python);
  }
  if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(status)) {
    g_start_outcome = Outcome::fail(
        MER_EDGE_RUNTIME_ERROR,
        std::string("cannot start the Python interpreter: ") +
            (status.err_msg != nullptr ? status.err_msg : "unknown error"));
    return;
  }
  // Initialisation leaves this thread holding the GIL; give it back.
  PyEval_SaveThread();
}

// Python objects looked up once, after `import mer_edge` succeeded.  They are
// never released: the interpreter outlives them anyway.
struct Api {
  PyObject* engine_cls;        // mer_edge.Engine
  PyObject* options_cls;       // mer_edge.EngineOptions
  PyObject* spotting_cls;      // mer_edge.SpottingParams
  PyObject* mer_edge_error;    // mer_edge.MerEdgeError
  PyObject* model_error;       // mer_edge.ModelError
  PyObject* backend_error;     // mer_edge.BackendError
  PyObject* json_loads;        // json.loads
  PyObject* json_dumps;        // json.dumps
  PyObject* dumps_kwargs;      // {"allow_nan": False, "separators": (",", ":")}
  PyObject* np_empty;          // numpy.empty
  PyObject* np_uint8;          // numpy.uint8
  std::vector<std::string> option_names;    // EngineOptions fields settable from C
  std::vector<std::string> spotting_names;  // SpottingParams fields
};

std::mutex g_bind_mutex;   // taken before the GIL
Api* g_api = nullptr;      // set once, under g_bind_mutex and the GIL

// The option that cannot cross the C boundary.
constexpr const char* kCallbackOption = "result_callback";

std::string utf8_of(PyObject* text) {
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(text, &size);
  if (data == nullptr) {
    PyErr_Clear();
    return "<not UTF-8>";
  }
  return std::string(data, static_cast<size_t>(size));
}

std::string str_of(PyObject* object) {
  Ref text(PyObject_Str(object));
  if (!text) {
    PyErr_Clear();
    return "<unprintable>";
  }
  return utf8_of(text.get());
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

// Takes the pending Python exception (GIL held); returns the instance.
Ref take_exception() {
#if PY_VERSION_HEX >= 0x030C0000
  return Ref(PyErr_GetRaisedException());
#else
  PyObject* type = nullptr;
  PyObject* value = nullptr;
  PyObject* traceback = nullptr;
  PyErr_Fetch(&type, &value, &traceback);
  PyErr_NormalizeException(&type, &value, &traceback);
  if (value != nullptr && traceback != nullptr) PyException_SetTraceback(value, traceback);
  Py_XDECREF(type);
  Py_XDECREF(traceback);
  return Ref(value);
#endif
}

// " (at file:line in function)" for the innermost frame of a traceback.
std::string innermost_frame(PyObject* exception) {
  Ref traceback(PyException_GetTraceback(exception));
  if (!traceback) return "";
  for (;;) {
    Ref next(PyObject_GetAttrString(traceback.get(), "tb_next"));
    if (!next || next.get() == Py_None) break;
    traceback = std::move(next);
  }
  PyErr_Clear();
  Ref line(PyObject_GetAttrString(traceback.get(), "tb_lineno"));
  Ref frame(PyObject_GetAttrString(traceback.get(), "tb_frame"));
  Ref code(frame ? PyObject_GetAttrString(frame.get(), "f_code") : nullptr);
  Ref file(code ? PyObject_GetAttrString(code.get(), "co_filename") : nullptr);
  Ref function(code ? PyObject_GetAttrString(code.get(), "co_name") : nullptr);
  if (!line || !file || !function) {
    PyErr_Clear();
    return "";
  }
  return " (at " + str_of(file.get()) + ":" + str_of(line.get()) + " in " +
         str_of(function.get()) + ")";
}

// Where a failed Python call came from decides what a plain ValueError means.
enum class Origin {
  kCallerInput,  // parsing the caller's options: ValueError/TypeError are theirs
  kEngine,       // inside the engine: only mer_edge's own errors blame the caller
};

bool is_instance(PyObject* object, PyObject* cls) {
  if (cls == nullptr) return false;
  int result = PyObject_IsInstance(object, cls);
  if (result < 0) PyErr_Clear();
  return result == 1;
}

// Turns the pending Python exception into an Outcome (GIL held).
//   ModelError -> MODEL_ERROR, BackendError -> BACKEND_ERROR, any other
//   MerEdgeError (InputError, SourceError, ...) -> INVALID_ARGUMENT with the
//   message unchanged; anything else is a RUNTIME_ERROR that names the type
//   and where it was raised.
Outcome python_failure(Origin origin, const std::string& prefix = "") {
  Ref exception = take_exception();
  if (!exception) {
    return Outcome::fail(MER_EDGE_RUNTIME_ERROR, prefix + "a Python call failed without an exception");
  }
  const Api* api = g_api;
  PyObject* value = exception.get();
  std::string message = str_of(value);
  std::string type_name = Py_TYPE(value)->tp_name;
  if (api != nullptr && is_instance(value, api->mer_edge_error)) {
    MerEdgeStatus status = MER_EDGE_INVALID_ARGUMENT;
    if (is_instance(value, api->model_error)) status = MER_EDGE_MODEL_ERROR;
    if (is_instance(value, api->backend_error)) status = MER_EDGE_BACKEND_ERROR;
    return Outcome::fail(status, prefix + (message.empty() ? type_name : message));
  }
  if (origin == Origin::kCallerInput &&
      (is_instance(value, PyExc_ValueError) || is_instance(value, PyExc_TypeError))) {
    return Outcome::fail(MER_EDGE_INVALID_ARGUMENT, prefix + type_name + ": " + message);
  }
  return Outcome::fail(MER_EDGE_RUNTIME_ERROR,
                       prefix + type_name + ": " + message + innermost_frame(value));
}

// Field names of a dataclass, in declaration order.
bool dataclass_fields(PyObject* fields_fn, PyObject* cls, std::vector<std::string>* names) {
  Ref fields(PyObject_CallOneArg(fields_fn, cls));
  if (!fields) return false;
  Ref iterator(PyObject_GetIter(fields.get()));
  if (!iterator) return false;
  while (Ref field{PyIter_Next(iterator.get())}) {
    Ref name(PyObject_GetAttrString(field.get(), "name"));
    if (!name) return false;
    names->push_back(utf8_of(name.get()));
  }
  return !PyErr_Occurred();
}

PyObject* attribute(PyObject* module, const char* name, bool* ok) {
  PyObject* value = PyObject_GetAttrString(module, name);
  if (value == nullptr) *ok = false;
  return value;  // new reference, kept for the life of the process
}

// Imports mer_edge and its helpers (GIL and g_bind_mutex held).
Outcome bind_api() {
  Ref mer_edge(PyImport_ImportModule("mer_edge"));
  if (!mer_edge) {
    return python_failure(Origin::kEngine,
                          "cannot import the mer_edge Python package (is it on PYTHONPATH?): ");
  }
  Ref version(PyObject_GetAttrString(mer_edge.get(), "__version__"));
  if (!version) return python_failure(Origin::kEngine, "mer_edge has no __version__: ");
  if (utf8_of(version.get()) != MER_EDGE_VERSION) {
    Ref file(PyObject_GetAttrString(mer_edge.get(), "__file__"));
    std::string where = file ? str_of(file.get()) : "?";
    PyErr_Clear();
    return Outcome::fail(MER_EDGE_RUNTIME_ERROR,
                         "libmer_edge_c was built for mer_edge " MER_EDGE_VERSION
                         " but Python imported mer_edge " + utf8_of(version.get()) +
                         " from " + where + "; rebuild the library");
  }
  Ref json(PyImport_ImportModule("json"));
  Ref numpy(PyImport_ImportModule("numpy"));
  Ref dataclasses(PyImport_ImportModule("dataclasses"));
  if (!json || !numpy || !dataclasses) return python_failure(Origin::kEngine);

  auto api = std::make_unique<Api>();
  bool ok = true;
  api->engine_cls = attribute(mer_edge.get(), "Engine", &ok);
  api->options_cls = attribute(mer_edge.get(), "EngineOptions", &ok);
  api->spotting_cls = attribute(mer_edge.get(), "SpottingParams", &ok);
  api->mer_edge_error = attribute(mer_edge.get(), "MerEdgeError", &ok);
  api->model_error = attribute(mer_edge.get(), "ModelError", &ok);
  api->backend_error = attribute(mer_edge.get(), "BackendError", &ok);
  api->json_loads = attribute(json.get(), "loads", &ok);
  api->json_dumps = attribute(json.get(), "dumps", &ok);
  api->np_empty = attribute(numpy.get(), "empty", &ok);
  api->np_uint8 = attribute(numpy.get(), "uint8", &ok);
  Ref fields_fn(ok ? PyObject_GetAttrString(dataclasses.get(), "fields") : nullptr);
  api->dumps_kwargs = Py_BuildValue("{s:O,s:(ss)}", "allow_nan", Py_False, "separators", ",", ":");
  std::vector<std::string> option_names;
  if (!ok || !fields_fn || api->dumps_kwargs == nullptr ||
      !dataclass_fields(fields_fn.get(), api->options_cls, &option_names) ||
      !dataclass_fields(fields_fn.get(), api->spotting_cls, &api->spotting_names)) {
    Outcome failure = python_failure(Origin::kEngine, "mer_edge does not have the expected API: ");
    for (PyObject* object : {api->engine_cls, api->options_cls, api->spotting_cls,
                             api->mer_edge_error, api->model_error, api->backend_error,
                             api->json_loads, api->json_dumps, api->dumps_kwargs,
                             api->np_empty, api->np_uint8}) {
      Py_XDECREF(object);
    }
    return failure;
  }
  for (std::string& name : option_names) {
    if (name != kCallbackOption) api->option_names.push_back(std::move(name));
  }
  g_api = api.release();
  return Outcome::ok();
}

// Starts Python and binds the API on first use; retried until it succeeds
// (an import failure is not sticky), except for a failed interpreter start.
Outcome ensure_runtime() {
  std::call_once(g_start_once, start_interpreter);
  if (g_start_outcome.failed()) return g_start_outcome;
  std::lock_guard<std::mutex> bind_lock(g_bind_mutex);
  if (g_api != nullptr) return Outcome::ok();
  Gil gil;
  return bind_api();
}

// ---------------------------------------------------------------------------
// Options: JSON object -> mer_edge.EngineOptions, passing only the keys given
// ---------------------------------------------------------------------------

bool contains(const std::vector<std::string>& names, const std::string& name) {
  for (const std::string& candidate : names) {
    if (candidate == name) return true;
  }
  return false;
}

// Checks a JSON object's keys against `names`; `scope` prefixes messages.
Outcome check_keys(PyObject* object, const std::vector<std::string>& names,
                   const std::string& scope) {
  PyObject* key = nullptr;
  PyObject* value = nullptr;
  Py_ssize_t position = 0;
  while (PyDict_Next(object, &position, &key, &value)) {
    std::string name = utf8_of(key);
    if (scope.empty() && name == kCallbackOption) {
      return Outcome::fail(MER_EDGE_INVALID_ARGUMENT,
                           "option 'result_callback' cannot be set through the C API; "
                           "results are returned by mer_edge_engine_process()");
    }
    if (!contains(names, name)) {
      return Outcome::fail(MER_EDGE_INVALID_ARGUMENT,
                           "unknown option '" + scope + name + "'; valid " +
                               (scope.empty() ? "options" : "'" + scope.substr(0, scope.size() - 1) +
                                                                "' options") +
                               ": " + join(names));
    }
  }
  return Outcome::ok();
}

// Builds EngineOptions from `options_json` (NULL: all defaults).
Outcome make_options(const char* options_json, Ref* options) {
  const Api& api = *g_api;
  Ref kwargs(PyDict_New());
  if (!kwargs) return python_failure(Origin::kEngine);
  if (options_json != nullptr) {
    Ref text(PyUnicode_DecodeUTF8(options_json, static_cast<Py_ssize_t>(std::strlen(options_json)),
                                  "strict"));
    if (!text) return python_failure(Origin::kCallerInput, "options_json is not UTF-8: ");
    Ref parsed(PyObject_CallOneArg(api.json_loads, text.get()));
    if (!parsed) return python_failure(Origin::kCallerInput, "options_json is not valid JSON: ");
    if (!PyDict_Check(parsed.get())) {
      return Outcome::fail(MER_EDGE_INVALID_ARGUMENT,
                           std::string("options_json must be a JSON object, got ") +
                               Py_TYPE(parsed.get())->tp_name);
    }
    Outcome keys = check_keys(parsed.get(), api.option_names, "");
    if (keys.failed()) return keys;
    if (PyDict_Update(kwargs.get(), parsed.get()) < 0) return python_failure(Origin::kEngine);
    PyObject* spotting = PyDict_GetItemString(kwargs.get(), "spotting");  // borrowed
    if (spotting != nullptr) {
      if (!PyDict_Check(spotting)) {
        return Outcome::fail(MER_EDGE_INVALID_ARGUMENT,
                             std::string("option 'spotting' must be a JSON object of "
                                         "SpottingParams fields, got ") +
                                 Py_TYPE(spotting)->tp_name);
      }
      Outcome spotting_keys = check_keys(spotting, api.spotting_names, "spotting.");
      if (spotting_keys.failed()) return spotting_keys;
      Ref empty(PyTuple_New(0));
      Ref params(empty ? PyObject_Call(api.spotting_cls, empty.get(), spotting) : nullptr);
      if (!params) return python_failure(Origin::kCallerInput);
      if (PyDict_SetItemString(kwargs.get(), "spotting", params.get()) < 0) {
        return python_failure(Origin::kEngine);
      }
    }
  }
  Ref empty(PyTuple_New(0));
  if (!empty) return python_failure(Origin::kEngine);
  *options = Ref(PyObject_Call(api.options_cls, empty.get(), kwargs.get()));
  if (!*options) return python_failure(Origin::kCallerInput);
  return Outcome::ok();
}

// ---------------------------------------------------------------------------
// Engine registry
// ---------------------------------------------------------------------------

struct EngineState {
  std::mutex mutex;            // serialises calls on this engine; taken before the GIL
  PyObject* engine = nullptr;  // mer_edge.Engine; nullptr once closed
};

struct Registry {
  std::mutex mutex;
  std::unordered_map<std::uintptr_t, std::shared_ptr<EngineState>> live;
  std::uintptr_t next_id = 1;
};

// Never destroyed: its states hold Python objects, and static destructors run
// at exit without the GIL.
Registry& registry() {
  static Registry* instance = new Registry();
  return *instance;
}

MerEdgeEngine* register_engine(std::shared_ptr<EngineState> state) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  std::uintptr_t id = reg.next_id++;
  reg.live.emplace(id, std::move(state));
  return reinterpret_cast<MerEdgeEngine*>(id);
}

std::shared_ptr<EngineState> find_engine(MerEdgeEngine* handle, bool remove) {
  Registry& reg = registry();
  std::lock_guard<std::mutex> lock(reg.mutex);
  auto found = reg.live.find(reinterpret_cast<std::uintptr_t>(handle));
  if (found == reg.live.end()) return nullptr;
  std::shared_ptr<EngineState> state = found->second;
  if (remove) reg.live.erase(found);
  return state;
}

Outcome lookup(MerEdgeEngine* handle, std::shared_ptr<EngineState>* state) {
  if (handle == nullptr) return Outcome::fail(MER_EDGE_INVALID_ARGUMENT, "engine is NULL");
  *state = find_engine(handle, /*remove=*/false);
  if (!*state) {
    return Outcome::fail(MER_EDGE_INVALID_ARGUMENT,
                         "engine is not a live handle (already closed, or never created)");
  }
  return Outcome::ok();
}

Outcome closed_meanwhile() {
  return Outcome::fail(MER_EDGE_INVALID_ARGUMENT, "engine was closed by another thread");
}

// ---------------------------------------------------------------------------
// Results: Python objects -> JSON text
// ---------------------------------------------------------------------------

// [item.to_dict() for item in items]
Ref to_dicts(PyObject* items) {
  Ref out(PyList_New(0));
  Ref iterator(out ? PyObject_GetIter(items) : nullptr);
  if (!iterator) return Ref();
  while (Ref item{PyIter_Next(iterator.get())}) {
    Ref as_dict(PyObject_CallMethod(item.get(), "to_dict", nullptr));
    if (!as_dict || PyList_Append(out.get(), as_dict.get()) < 0) return Ref();
  }
  if (PyErr_Occurred()) return Ref();
  return out;
}

bool set_item(PyObject* dict, const char* key, Ref value) {
  return value && PyDict_SetItemString(dict, key, value.get()) == 0;
}

// json.dumps(payload) copied into a malloc'd string (GIL held).
Outcome dump_json(PyObject* payload, char** result_json) {
  const Api& api = *g_api;
  Ref args(PyTuple_Pack(1, payload));
  Ref text(args ? PyObject_Call(api.json_dumps, args.get(), api.dumps_kwargs) : nullptr);
  if (!text) return python_failure(Origin::kEngine, "cannot write the result as JSON: ");
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(text.get(), &size);
  if (data == nullptr) return python_failure(Origin::kEngine);
  *result_json = copy_string(data, static_cast<size_t>(size));
  if (*result_json == nullptr) return Outcome::fail(MER_EDGE_RUNTIME_ERROR, "out of memory");
  return Outcome::ok();
}

// ---------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------

// A new (height, width, 3) uint8 array holding the caller's pixels.  Copied
// (row by row when rows are padded) without the GIL: the engine may keep the
// array past this call, the caller's buffer may not live that long.
Outcome make_frame(const uint8_t* bgr, int width, int height, size_t stride, Ref* frame) {
  const Api& api = *g_api;
  Ref shape(Py_BuildValue("(iii)", height, width, 3));
  if (!shape) return python_failure(Origin::kEngine);
  *frame = Ref(PyObject_CallFunctionObjArgs(api.np_empty, shape.get(), api.np_uint8, nullptr));
  if (!*frame) return python_failure(Origin::kEngine);
  Py_buffer view;
  if (PyObject_GetBuffer(frame->get(), &view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
    return python_failure(Origin::kEngine);
  }
  const size_t row = static_cast<size_t>(width) * 3;
  uint8_t* destination = static_cast<uint8_t*>(view.buf);
  Py_BEGIN_ALLOW_THREADS
  if (stride == row) {
    std::memcpy(destination, bgr, row * static_cast<size_t>(height));
  } else {
    for (size_t y = 0; y < static_cast<size_t>(height); ++y) {
      std::memcpy(destination + y * row, bgr + y * stride, row);
    }
  }
  Py_END_ALLOW_THREADS
  PyBuffer_Release(&view);
  return Outcome::ok();
}

Outcome check_frame_arguments(const uint8_t* bgr, int width, int height, int stride_bytes) {
  if (bgr == nullptr) return Outcome::fail(MER_EDGE_INVALID_ARGUMENT, "bgr buffer is NULL");
  if (width <= 0 || height <= 0) {
    return Outcome::fail(MER_EDGE_INVALID_ARGUMENT, "width and height must be > 0, got " +
                                                        std::to_string(width) + "x" +
                                                        std::to_string(height));
  }
  const long long row = static_cast<long long>(width) * 3;
  if (stride_bytes < row) {
    return Outcome::fail(MER_EDGE_INVALID_ARGUMENT,
                         "stride_bytes must be >= width * 3 = " + std::to_string(row) + ", got " +
                             std::to_string(stride_bytes));
  }
  return Outcome::ok();
}

Outcome process(MerEdgeEngine* handle, const uint8_t* bgr, int width, int height,
                int stride_bytes, double timestamp_ms, char** result_json) {
  if (result_json == nullptr) return Outcome::fail(MER_EDGE_INVALID_ARGUMENT, "result_json is NULL");
  std::shared_ptr<EngineState> state;
  Outcome found = lookup(handle, &state);
  if (found.failed()) return found;
  Outcome arguments = check_frame_arguments(bgr, width, height, stride_bytes);
  if (arguments.failed()) return arguments;

  std::lock_guard<std::mutex> lock(state->mutex);
  if (state->engine == nullptr) return closed_meanwhile();
  Gil gil;
  Ref frame;
  Outcome copied = make_frame(bgr, width, height, static_cast<size_t>(stride_bytes), &frame);
  if (copied.failed()) return copied;
  Ref stamp(PyFloat_FromDouble(timestamp_ms));
  if (!stamp) return python_failure(Origin::kEngine);
  Ref result(PyObject_CallMethod(state->engine, "process", "OO", frame.get(), stamp.get()));
  if (!result) return python_failure(Origin::kEngine);

  Ref payload(PyDict_New());
  if (!payload) return python_failure(Origin::kEngine);
  Ref faces(PyObject_GetAttrString(result.get(), "faces"));
  Ref events(PyObject_GetAttrString(result.get(), "events"));
  if (!faces || !events ||
      !set_item(payload.get(), "frame", Ref(PyObject_GetAttrString(result.get(), "frame_index"))) ||
      !set_item(payload.get(), "timestamp_ms",
                Ref(PyObject_GetAttrString(result.get(), "timestamp_ms"))) ||
      !set_item(payload.get(), "faces", to_dicts(faces.get())) ||
      !set_item(payload.get(), "events", to_dicts(events.get()))) {
    return python_failure(Origin::kEngine);
  }
  return dump_json(payload.get(), result_json);
}

Outcome flush(MerEdgeEngine* handle, char** result_json) {
  if (result_json == nullptr) return Outcome::fail(MER_EDGE_INVALID_ARGUMENT, "result_json is NULL");
  std::shared_ptr<EngineState> state;
  Outcome found = lookup(handle, &state);
  if (found.failed()) return found;

  std::lock_guard<std::mutex> lock(state->mutex);
  if (state->engine == nullptr) return closed_meanwhile();
  Gil gil;
  Ref events(PyObject_CallMethod(state->engine, "flush", nullptr));
  if (!events) return python_failure(Origin::kEngine);
  Ref payload(PyDict_New());
  if (!payload || !set_item(payload.get(), "events", to_dicts(events.get()))) {
    return python_failure(Origin::kEngine);
  }
  return dump_json(payload.get(), result_json);
}

Outcome create(const char* options_json, MerEdgeEngine** out) {
  if (out == nullptr) return Outcome::fail(MER_EDGE_INVALID_ARGUMENT, "out is NULL");
  Outcome runtime = ensure_runtime();
  if (runtime.failed()) return runtime;

  auto state = std::make_shared<EngineState>();
  {
    Gil gil;
    Ref options;
    Outcome parsed = make_options(options_json, &options);
    if (parsed.failed()) return parsed;
    Ref from_options(PyObject_GetAttrString(g_api->engine_cls, "from_options"));
    Ref engine(from_options ? PyObject_CallOneArg(from_options.get(), options.get()) : nullptr);
    if (!engine) return python_failure(Origin::kEngine);
    state->engine = engine.release();
  }
  *out = register_engine(std::move(state));
  return Outcome::ok();
}

Outcome internal_error(const char* what) {
  return Outcome::fail(MER_EDGE_RUNTIME_ERROR, std::string("internal error: ") + what);
}

}  // namespace

// ---------------------------------------------------------------------------
// The C ABI.  No C++ exception crosses it.
// ---------------------------------------------------------------------------

extern "C" {

MER_EDGE_EXPORT MerEdgeStatus mer_edge_engine_create(const char* options_json, MerEdgeEngine** out,
                                                     char** error_msg) {
  if (error_msg != nullptr) *error_msg = nullptr;
  if (out != nullptr) *out = nullptr;
  try {
    return report(create(options_json, out), error_msg);
  } catch (const std::bad_alloc&) {
    return report(Outcome::fail(MER_EDGE_RUNTIME_ERROR, "out of memory"), error_msg);
  } catch (const std::exception& error) {
    return report(internal_error(error.what()), error_msg);
  }
}

MER_EDGE_EXPORT MerEdgeStatus mer_edge_engine_process(MerEdgeEngine* engine, const uint8_t* bgr,
                                                      int width, int height, int stride_bytes,
                                                      double timestamp_ms, char** result_json,
                                                      char** error_msg) {
  clear_outputs(result_json, error_msg);
  try {
    return report(process(engine, bgr, width, height, stride_bytes, timestamp_ms, result_json),
                  error_msg);
  } catch (const std::bad_alloc&) {
    return report(Outcome::fail(MER_EDGE_RUNTIME_ERROR, "out of memory"), error_msg);
  } catch (const std::exception& error) {
    return report(internal_error(error.what()), error_msg);
  }
}

MER_EDGE_EXPORT MerEdgeStatus mer_edge_engine_flush(MerEdgeEngine* engine, char** result_json,
                                                    char** error_msg) {
  clear_outputs(result_json, error_msg);
  try {
    return report(flush(engine, result_json), error_msg);
  } catch (const std::bad_alloc&) {
    return report(Outcome::fail(MER_EDGE_RUNTIME_ERROR, "out of memory"), error_msg);
  } catch (const std::exception& error) {
    return report(internal_error(error.what()), error_msg);
  }
}

MER_EDGE_EXPORT void mer_edge_engine_close(MerEdgeEngine* engine) {
  if (engine == nullptr) return;
  try {
    std::shared_ptr<EngineState> state = find_engine(engine, /*remove=*/true);
    if (!state) return;  // already closed: nothing to do
    std::lock_guard<std::mutex> lock(state->mutex);  // waits for a call in progress
    if (state->engine == nullptr) return;
    Gil gil;
    Ref python_engine(state->engine);  // takes the registry's reference
    state->engine = nullptr;
    Ref closed(PyObject_CallMethod(python_engine.get(), "close", nullptr));
    // close() has no way to report; print like Python does for errors in __del__.
    if (!closed) PyErr_WriteUnraisable(python_engine.get());
  } catch (...) {
    // Nothing to report to; the handle is unregistered either way.
  }
}

MER_EDGE_EXPORT void mer_edge_free(char* str) { std::free(str); }

MER_EDGE_EXPORT const char* mer_edge_version(void) { return MER_EDGE_VERSION; }

}  // extern "C"
