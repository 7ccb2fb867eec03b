// CPython plumbing for the mer_edge C API (see python_support.h).
#include "python_support.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <mutex>

namespace mer_edge_c {
namespace {

bool is_executable_file(const char* path) {
  struct stat info;
  return stat(path, &info) == 0 && S_ISREG(info.st_mode) && access(path, X_OK) == 0;
}

std::string trimmed(const std::string& text) {
  const char* blank = " \t\r\n";
  size_t first = text.find_first_not_of(blank);
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(blank) - first + 1);
}

// "MAJOR.MINOR" of the virtual environment `python` belongs to, read from the
// pyvenv.cfg beside it or one folder up (where Python itself looks), or "" when
// it is no virtual environment's.  venv writes "version = 3.12.1", uv and
// virtualenv "version_info = 3.12.1.final.0".
std::string environment_version(const std::string& python) {
  size_t slash = python.rfind('/');
  if (slash == std::string::npos) return "";
  std::string bin = python.substr(0, slash);
  for (const std::string& folder : {bin, bin + "/.."}) {
    std::ifstream config(folder + "/pyvenv.cfg");
    std::string line;
    while (std::getline(config, line)) {
      size_t equals = line.find('=');
      if (equals == std::string::npos) continue;
      std::string key = trimmed(line.substr(0, equals));
      if (key != "version" && key != "version_info") continue;
      std::string version = trimmed(line.substr(equals + 1));
      return version.substr(0, version.find('.', version.find('.') + 1));
    }
  }
  return "";
}

// Why the interpreter cannot take MER_EDGE_PYTHON's environment, or "".
std::string unusable_python(const char* python) {
  if (!is_executable_file(python)) {
    return std::string("MER_EDGE_PYTHON=") + python + " is not an executable Python interpreter";
  }
  const std::string embedded =
      std::to_string(PY_MAJOR_VERSION) + "." + std::to_string(PY_MINOR_VERSION);
  const std::string theirs = environment_version(python);
  if (theirs.empty() || theirs == embedded) return "";
  return std::string("MER_EDGE_PYTHON=") + python + " is a Python " + theirs +
         " environment, but this libmer_edge_c embeds Python " + embedded +
         ": build the library against that environment's Python (make -C cpp_bindings PYTHON=" +
         python + ", or cmake -DPython3_EXECUTABLE=" + python + ")";
}

Outcome start_interpreter() {
  if (Py_IsInitialized()) return Outcome::ok();  // the host runs Python: join it
  PyPreConfig preconfig;
  PyPreConfig_InitPythonConfig(&preconfig);
  preconfig.configure_locale = 0;  // leave the host's locale alone...
  preconfig.utf8_mode = 1;         // ...and read paths and environment as UTF-8
  PyStatus status = Py_PreInitialize(&preconfig);
  PyConfig config;
  PyConfig_InitPythonConfig(&config);  // honours PYTHONPATH, PYTHONHOME, ...
  config.install_signal_handlers = 0;  // SIGINT & co. belong to the host
  config.parse_argv = 0;
  const char* python = std::getenv("MER_EDGE_PYTHON");
  const std::string unusable = python != nullptr && *python ? unusable_python(python) : "";
  if (!unusable.empty()) {
    PyConfig_Clear(&config);
    return Outcome::fail(MER_EDGE_RUNTIME_ERROR, unusable);
  }
  if (python != nullptr && *python && !PyStatus_Exception(status)) {
    // Paths are computed from the program name, so a virtual environment's
    // python executable selects that environment's site-packages.
    status = PyConfig_SetBytesString(&config, &config.program_name, python);
  }
  if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(status)) {
    return Outcome::fail(MER_EDGE_RUNTIME_ERROR,
                         std::string("cannot start the Python interpreter: ") +
                             (status.err_msg != nullptr ? status.err_msg : "unknown error"));
  }
  // Initialisation leaves this thread holding the GIL; give it back.
  PyEval_SaveThread();
  return Outcome::ok();
}

// " (at file:line in function)" for the innermost frame of a traceback that
// is not in the import machinery ("<frozen importlib._bootstrap>").
std::string innermost_frame(PyObject* exception) {
  std::string where;
  Ref traceback(PyException_GetTraceback(exception));
  while (traceback && traceback.get() != Py_None) {
    Ref line(PyObject_GetAttrString(traceback.get(), "tb_lineno"));
    Ref frame(PyObject_GetAttrString(traceback.get(), "tb_frame"));
    Ref code(frame ? PyObject_GetAttrString(frame.get(), "f_code") : nullptr);
    Ref file(code ? PyObject_GetAttrString(code.get(), "co_filename") : nullptr);
    Ref function(code ? PyObject_GetAttrString(code.get(), "co_name") : nullptr);
    if (!line || !file || !function) break;
    std::string file_name = str_of(file.get());
    if (file_name.rfind("<frozen", 0) != 0) {
      where = " (at " + file_name + ":" + str_of(line.get()) + " in " + str_of(function.get()) + ")";
    }
    traceback = Ref(PyObject_GetAttrString(traceback.get(), "tb_next"));
  }
  PyErr_Clear();
  return where;
}

}  // namespace

const Outcome& start_python() {
  static std::once_flag once;
  static Outcome outcome;  // written once, inside call_once
  std::call_once(once, [] { outcome = start_interpreter(); });
  return outcome;
}

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

bool is_instance(PyObject* object, PyObject* cls) {
  if (cls == nullptr) return false;
  int result = PyObject_IsInstance(object, cls);
  if (result < 0) PyErr_Clear();
  return result == 1;
}

Outcome describe(const Ref& exception, Origin origin, const ErrorClasses& classes,
                 const std::string& prefix) {
  if (!exception) {
    return Outcome::fail(MER_EDGE_RUNTIME_ERROR, prefix + "a Python call failed without an exception");
  }
  PyObject* value = exception.get();
  std::string message = str_of(value);
  std::string type_name = Py_TYPE(value)->tp_name;
  if (is_instance(value, classes.base)) {
    MerEdgeStatus status = MER_EDGE_INVALID_ARGUMENT;
    if (is_instance(value, classes.model)) status = MER_EDGE_MODEL_ERROR;
    if (is_instance(value, classes.backend)) status = MER_EDGE_BACKEND_ERROR;
    return Outcome::fail(status, prefix + (message.empty() ? type_name : message));
  }
  if (origin == Origin::kCallerInput &&
      (is_instance(value, PyExc_ValueError) || is_instance(value, PyExc_TypeError))) {
    return Outcome::fail(MER_EDGE_INVALID_ARGUMENT, prefix + type_name + ": " + message);
  }
  return Outcome::fail(MER_EDGE_RUNTIME_ERROR,
                       prefix + type_name + ": " + message + innermost_frame(value));
}

}  // namespace mer_edge_c
