// mer_edge C API: embeds CPython and drives mer_edge.Engine (see mer_edge.h).
//
// Threading model
//   * The interpreter is started once and never finalised (start_python()).
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

#include "python_support.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "mer_edge/mer_edge.h"

#ifndef MER_EDGE_VERSION
#error "define MER_EDGE_VERSION as the mer_edge package version (the build scripts read mer_edge/_version.py)"
#endif

namespace mer_edge_c {
namespace {

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
// The Python objects the library uses
// ---------------------------------------------------------------------------

// Looked up once, after `import mer_edge` succeeded, and never released: the
// interpreter outlives them anyway.
struct Api {
  PyObject* engine_cls;        // mer_edge.Engine
  PyObject* options_cls;       // mer_edge.EngineOptions
  PyObject* spotting_cls;      // mer_edge.SpottingParams
  ErrorClasses errors;         // mer_edge.MerEdgeError, ModelError, BackendError
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
constexpr const char* kOverridesOption = "spotting_overrides";
constexpr const char* kLagOption = "k_ms";

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

// describe() for the pending exception, which it clears (GIL held).
Outcome python_failure(Origin origin, const std::string& prefix = "") {
  return describe(take_exception(), origin, g_api != nullptr ? g_api->errors : ErrorClasses{},
                  prefix);
}

// "mer_edge" itself was not found: say where Python looked.
bool is_mer_edge_missing(PyObject* exception) {
  if (!is_instance(exception, PyExc_ModuleNotFoundError)) return false;
  Ref name(PyObject_GetAttrString(exception, "name"));
  PyErr_Clear();
  return name && PyUnicode_Check(name.get()) && utf8_of(name.get()) == "mer_edge";
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
    Ref exception = take_exception();
    if (is_mer_edge_missing(exception.get())) {
      PyObject* path = PySys_GetObject("path");  // borrowed
      return Outcome::fail(MER_EDGE_RUNTIME_ERROR,
                           "the mer_edge Python package is not on sys.path " +
                               (path != nullptr ? str_of(path) : std::string("[]")) +
                               "; add its parent folder to PYTHONPATH, or set MER_EDGE_PYTHON "
                               "to the python executable of the environment it is installed in");
    }
    return describe(exception, Origin::kEngine, ErrorClasses{}, "cannot import mer_edge: ");
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
  api->errors.base = attribute(mer_edge.get(), "MerEdgeError", &ok);
  api->errors.model = attribute(mer_edge.get(), "ModelError", &ok);
  api->errors.backend = attribute(mer_edge.get(), "BackendError", &ok);
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
                             api->errors.base, api->errors.model, api->errors.backend,
                             api->json_loads, api->json_dumps, api->dumps_kwargs,
                             api->np_empty, api->np_uint8}) {
      Py_XDECREF(object);
    }
    return failure;
  }
  for (std::string& name : option_names) {
    if (name != kCallbackOption) api->option_names.push_back(std::move(name));
  }
  // The motion lag is the top-level "k_ms" option, not an override of the calibration.
  auto& names = api->spotting_names;
  names.erase(std::remove(names.begin(), names.end(), std::string(kLagOption)), names.end());
  g_api = api.release();
  return Outcome::ok();
}

// Starts Python and binds the API on first use; retried until it succeeds
// (an import failure is not sticky), except for a failed interpreter start.
Outcome ensure_runtime() {
  const Outcome& started = start_python();
  if (started.failed()) return started;
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
      if (PyDict_GetItemString(spotting, kLagOption) != nullptr) {
        return Outcome::fail(MER_EDGE_INVALID_ARGUMENT,
                             std::string("spotting.") + kLagOption + ": set the motion lag with "
                                 "the top-level \"" + kLagOption + "\" option");
      }
      Outcome spotting_keys = check_keys(spotting, api.spotting_names, "spotting.");
      if (spotting_keys.failed()) return spotting_keys;
      // The keys given are set over the spotter's calibrated parameters, not
      // over the SpottingParams defaults: EngineOptions.spotting_overrides.
      if (PyDict_GetItemString(kwargs.get(), kOverridesOption) != nullptr) {
        return Outcome::fail(MER_EDGE_INVALID_ARGUMENT,
                             std::string("give either 'spotting' or '") + kOverridesOption +
                                 "', not both");
      }
      if (PyDict_SetItemString(kwargs.get(), kOverridesOption, spotting) < 0 ||
          PyDict_DelItemString(kwargs.get(), "spotting") < 0) {
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
}  // namespace mer_edge_c

using namespace mer_edge_c;  // this .cpp only: the entry points below are thin wrappers

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
