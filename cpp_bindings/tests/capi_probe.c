/* Exercises the mer_edge C API and reports what each call did.
 *
 * Built and run by tests/test_cpp_bindings.py, which makes the assertions:
 * this program only reports.  Each step prints one line
 *
 *     <step>\t<status>\t<result JSON or error message>
 *
 * Usage: capi_probe [FRAMES.bgr WIDTH HEIGHT COUNT FPS PAD]
 *   Without arguments: synthetic gray-noise frames, the error paths, and two
 *   engines driven from two threads at once.
 *   With a raw file of COUNT packed BGR frames: feeds them, one line each,
 *   in rows padded by PAD bytes (0: packed).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mer_edge/mer_edge.h"

static void report(const char* step, MerEdgeStatus status, char* result, char* error) {
  const char* text = error != NULL ? error : (result != NULL ? result : "");
  printf("%s\t%d\t", step, (int)status);
  for (const char* c = text; *c; ++c) putchar(*c == '\n' || *c == '\t' ? ' ' : *c);
  putchar('\n');
  fflush(stdout);
  mer_edge_free(result);
  mer_edge_free(error);
}

static void create_with(const char* step, const char* options) {
  MerEdgeEngine* engine = NULL;
  char* error = NULL;
  MerEdgeStatus status = mer_edge_engine_create(options, &engine, &error);
  report(step, status, NULL, error);
  mer_edge_engine_close(engine);
}

/* Gray noise around mid-gray, in rows `stride` bytes apart. */
static void fill_noise(uint8_t* buffer, int width, int height, int stride, unsigned* seed) {
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width * 3; ++x) {
      *seed = *seed * 1103515245u + 12345u;
      buffer[y * stride + x] = (uint8_t)(112 + ((*seed >> 16) & 31));
    }
  }
}

/* One engine per thread, all at once: calls must neither deadlock nor mix. */
typedef struct {
  MerEdgeStatus status;
  int frames_ok;
} ThreadReport;

static void* thread_main(void* arg) {
  ThreadReport* out = arg;
  const int width = 64, height = 48;
  uint8_t frame[64 * 48 * 3];
  unsigned seed = (unsigned)(size_t)arg;
  MerEdgeEngine* engine = NULL;
  char* result = NULL;
  char* error = NULL;
  out->status = mer_edge_engine_create("{\"recognize\": false}", &engine, &error);
  mer_edge_free(error);
  for (int i = 0; out->status == MER_EDGE_OK && i < 10; ++i) {
    fill_noise(frame, width, height, width * 3, &seed);
    out->status = mer_edge_engine_process(engine, frame, width, height, width * 3, 33.0 * i,
                                          &result, &error);
    out->frames_ok += out->status == MER_EDGE_OK;
    mer_edge_free(result);
    mer_edge_free(error);
  }
  mer_edge_engine_close(engine);
  return NULL;
}

static void threads(void) {
  enum { kThreads = 3 };
  pthread_t ids[kThreads];
  ThreadReport reports[kThreads];
  int frames_ok = 0;
  MerEdgeStatus status = MER_EDGE_OK;
  memset(reports, 0, sizeof reports);
  for (int i = 0; i < kThreads; ++i) pthread_create(&ids[i], NULL, thread_main, &reports[i]);
  for (int i = 0; i < kThreads; ++i) {
    pthread_join(ids[i], NULL);
    frames_ok += reports[i].frames_ok;
    if (reports[i].status != MER_EDGE_OK) status = reports[i].status;
  }
  printf("threads\t%d\t{\"frames_ok\":%d}\n", (int)status, frames_ok);
  fflush(stdout);
}

static int synthetic(void) {
  const int width = 160, height = 120, stride = 160 * 3 + 32; /* padded rows */
  uint8_t* frame = calloc((size_t)stride * height, 1);
  unsigned seed = 7;
  char* result = NULL;
  char* error = NULL;
  MerEdgeEngine* engine = NULL;
  MerEdgeStatus status;
  char step[32];

  printf("version\t0\t%s\n", mer_edge_version());
  create_with("create_unknown_key", "{\"max_faces\": 2, \"no_such_option\": 1}");
  create_with("create_unknown_spotting_key", "{\"spotting\": {\"nope\": 1}}");
  create_with("create_spotting_keys", "{\"spotting\": {\"me_quiet_ratio\": null, \"p\": 0.6}}");
  create_with("create_bad_spotting_value", "{\"spotting\": {\"p\": 1.5}}");
  create_with("create_spotting_lag", "{\"spotting\": {\"k_ms\": 100}}");
  create_with("create_spotting_twice",
              "{\"spotting\": {\"p\": 0.6}, \"spotting_overrides\": {\"p\": 0.7}}");
  create_with("create_bad_json", "{\"max_faces\": ");
  create_with("create_not_object", "[1, 2]");
  create_with("create_callback", "{\"result_callback\": null}");
  create_with("create_bad_value", "{\"max_faces\": 0}");
  create_with("create_missing_model", "{\"spotting_model\": \"/no/such/model.onnx\"}");
  create_with("create_unknown_backend", "{\"backend\": \"no_such_backend\"}");

  status = mer_edge_engine_create("{\"max_faces\": 1, \"spotting\": {\"p\": 0.6}}", NULL, &error);
  report("create_null_out", status, NULL, error);

  status = mer_edge_engine_create(NULL, &engine, &error);
  report("create", status, NULL, error);
  if (status != MER_EDGE_OK) return 1;

  status = mer_edge_engine_process(NULL, frame, width, height, stride, 0.0, &result, &error);
  report("process_null_engine", status, result, error);
  status = mer_edge_engine_process(engine, NULL, width, height, stride, 0.0, &result, &error);
  report("process_null_buffer", status, result, error);
  status = mer_edge_engine_process(engine, frame, width, height, width * 3 - 1, 0.0, &result, &error);
  report("process_bad_stride", status, result, error);
  status = mer_edge_engine_process(engine, frame, 0, height, stride, 0.0, &result, &error);
  report("process_bad_size", status, result, error);
  status = mer_edge_engine_process(engine, frame, 8, 8, stride, 0.0, &result, &error);
  report("process_too_small", status, result, error);
  status = mer_edge_engine_process(engine, frame, width, height, stride, 0.0, NULL, &error);
  report("process_null_result", status, NULL, error);

  for (int i = 0; i < 5; ++i) {
    fill_noise(frame, width, height, stride, &seed);
    snprintf(step, sizeof step, "process_%d", i);
    status = mer_edge_engine_process(engine, frame, width, height, stride, 1000.0 + 40.0 * i,
                                     &result, &error);
    report(step, status, result, error);
  }
  status = mer_edge_engine_process(engine, frame, width, height, stride, 1000.0, &result, &error);
  report("process_backwards", status, result, error);
  /* The engine is untouched by a rejected frame: the stream goes on. */
  status = mer_edge_engine_process(engine, frame, width, height, width * 3, 1200.0, &result, &error);
  report("process_after_error", status, result, error);
  status = mer_edge_engine_flush(engine, &result, &error);
  report("flush", status, result, error);

  mer_edge_engine_close(engine);
  mer_edge_engine_close(engine); /* idempotent */
  mer_edge_engine_close(NULL);
  status = mer_edge_engine_process(engine, frame, width, height, stride, 2000.0, &result, &error);
  report("process_closed", status, result, error);
  status = mer_edge_engine_flush(engine, &result, &error);
  report("flush_closed", status, result, error);
  free(frame);
  threads();
  return 0;
}

static int from_file(const char* path, int width, int height, int count, double fps, int pad) {
  const size_t row = (size_t)width * 3, stride = row + (size_t)pad, size = row * height;
  uint8_t* packed = malloc(size);
  uint8_t* frame = malloc(stride * height);
  FILE* file = fopen(path, "rb");
  char* result = NULL;
  char* error = NULL;
  MerEdgeEngine* engine = NULL;
  MerEdgeStatus status;
  char step[32];
  if (packed == NULL || frame == NULL || file == NULL) {
    fprintf(stderr, "cannot read %s\n", path);
    return 2;
  }
  status = mer_edge_engine_create("{\"max_faces\": 2}", &engine, &error);
  report("create", status, NULL, error);
  if (status != MER_EDGE_OK) return 1;
  for (int i = 0; i < count && fread(packed, 1, size, file) == size; ++i) {
    memset(frame, 0xAB, stride * height); /* padding the library must skip */
    for (int y = 0; y < height; ++y) memcpy(frame + y * stride, packed + y * row, row);
    snprintf(step, sizeof step, "frame_%d", i);
    status = mer_edge_engine_process(engine, frame, width, height, (int)stride, 1000.0 * i / fps,
                                     &result, &error);
    report(step, status, result, error);
  }
  status = mer_edge_engine_flush(engine, &result, &error);
  report("flush", status, result, error);
  mer_edge_engine_close(engine);
  fclose(file);
  free(packed);
  free(frame);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 7) {
    return from_file(argv[1], atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atof(argv[5]),
                     atoi(argv[6]));
  }
  if (argc == 1) return synthetic();
  fprintf(stderr, "usage: %s [FRAMES.bgr WIDTH HEIGHT COUNT FPS PAD]\n", argv[0]);
  return 2;
}
