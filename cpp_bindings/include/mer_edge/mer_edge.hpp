// Header-only C++ wrapper over the mer_edge C API (mer_edge.h).
//
//   mer_edge::Engine engine(R"({"max_faces": 2})");
//   std::string result = engine.Process(bgr, width, height, stride, timestamp_ms);
//   std::string tail = engine.Flush();
//
// Failures throw mer_edge::Error, which carries the MerEdgeStatus and the
// message.  Results are the JSON documents described in mer_edge.h; parse
// them with the JSON library of your choice.
#ifndef MER_EDGE_MER_EDGE_HPP_
#define MER_EDGE_MER_EDGE_HPP_

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "mer_edge/mer_edge.h"

namespace mer_edge {

class Error : public std::runtime_error {
 public:
  Error(MerEdgeStatus status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  MerEdgeStatus status() const noexcept { return status_; }

 private:
  MerEdgeStatus status_;
};

namespace detail {

struct FreeString {
  void operator()(char* text) const noexcept { mer_edge_free(text); }
};
using OwnedString = std::unique_ptr<char, FreeString>;

// Takes ownership of both strings; throws on failure.
inline std::string Take(MerEdgeStatus status, char* result, char* error) {
  OwnedString owned_result(result);
  OwnedString owned_error(error);
  if (status != MER_EDGE_OK) {
    throw Error(status, owned_error ? owned_error.get() : "mer_edge: unknown error");
  }
  return owned_result ? std::string(owned_result.get()) : std::string();
}

}  // namespace detail

// Owns one engine; movable, not copyable.
class Engine {
 public:
  // `options_json`: a JSON object of mer_edge.EngineOptions fields; empty
  // means the package defaults.
  explicit Engine(const std::string& options_json = std::string()) {
    char* error = nullptr;
    MerEdgeStatus status = mer_edge_engine_create(
        options_json.empty() ? nullptr : options_json.c_str(), &engine_, &error);
    detail::Take(status, nullptr, error);
  }
  ~Engine() { mer_edge_engine_close(engine_); }

  Engine(Engine&& other) noexcept : engine_(other.engine_) { other.engine_ = nullptr; }
  Engine& operator=(Engine&& other) noexcept {
    if (this != &other) {
      mer_edge_engine_close(engine_);
      engine_ = other.engine_;
      other.engine_ = nullptr;
    }
    return *this;
  }
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // One BGR frame, rows `stride_bytes` apart; returns the frame's result JSON.
  std::string Process(const std::uint8_t* bgr, int width, int height, int stride_bytes,
                      double timestamp_ms) {
    char* result = nullptr;
    char* error = nullptr;
    MerEdgeStatus status = mer_edge_engine_process(engine_, bgr, width, height, stride_bytes,
                                                   timestamp_ms, &result, &error);
    return detail::Take(status, result, error);
  }

  // End of stream: {"events": [...]} for the intervals still open.
  std::string Flush() {
    char* result = nullptr;
    char* error = nullptr;
    MerEdgeStatus status = mer_edge_engine_flush(engine_, &result, &error);
    return detail::Take(status, result, error);
  }

  // Releases the engine now (the destructor does it otherwise); idempotent.
  void Close() noexcept {
    mer_edge_engine_close(engine_);
    engine_ = nullptr;
  }

  MerEdgeEngine* get() const noexcept { return engine_; }

 private:
  MerEdgeEngine* engine_ = nullptr;
};

inline std::string Version() { return mer_edge_version(); }

}  // namespace mer_edge

#endif  // MER_EDGE_MER_EDGE_HPP_
