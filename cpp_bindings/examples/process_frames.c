/* Feeds frames to a mer_edge engine from C and prints what it finds.
 *
 *   process_frames [-o OPTIONS_JSON] [FRAMES.bgr WIDTH HEIGHT [FPS]]
 *
 * FRAMES.bgr holds packed 8-bit BGR frames back to back, e.g. from
 *   ffmpeg -i face.mp4 -f rawvideo -pix_fmt bgr24 face.bgr
 * Without a file, 60 synthetic 320x240 frames are made up (a moving bright
 * square on gray: no face, so the results are empty).
 *
 * Each frame's result JSON is printed on its own line, then the events left
 * open at the end of the stream (flush).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mer_edge/mer_edge.h"

/* Prints the error and frees it; returns 1 so main can `return fail(...)`. */
static int fail(const char* what, MerEdgeStatus status, char* error) {
  fprintf(stderr, "%s failed (status %d): %s\n", what, (int)status,
          error != NULL ? error : "(no message)");
  mer_edge_free(error);
  return 1;
}

static void synthesise(uint8_t* frame, int width, int height, int index) {
  memset(frame, 128, (size_t)width * height * 3);
  int x0 = (index * 4) % (width - 32), y0 = height / 2 - 16;
  for (int y = y0; y < y0 + 32; ++y) memset(frame + ((size_t)y * width + x0) * 3, 230, 32 * 3);
}

int main(int argc, char** argv) {
  const char* options = NULL;
  int arg = 1;
  if (arg + 1 < argc && strcmp(argv[arg], "-o") == 0) {
    options = argv[arg + 1];
    arg += 2;
  }
  const char* path = NULL;
  int width = 320, height = 240;
  double fps = 30.0;
  if (argc - arg >= 3) {
    path = argv[arg];
    width = atoi(argv[arg + 1]);
    height = atoi(argv[arg + 2]);
    if (argc - arg >= 4) fps = atof(argv[arg + 3]);
  } else if (argc != arg) {
    fprintf(stderr, "usage: %s [-o OPTIONS_JSON] [FRAMES.bgr WIDTH HEIGHT [FPS]]\n", argv[0]);
    return 2;
  }
  if (width <= 0 || height <= 0 || fps <= 0) {
    fprintf(stderr, "WIDTH, HEIGHT and FPS must be positive\n");
    return 2;
  }

  printf("# mer_edge %s\n", mer_edge_version());
  MerEdgeEngine* engine = NULL;
  char* error = NULL;
  char* result = NULL;
  MerEdgeStatus status = mer_edge_engine_create(options, &engine, &error);
  if (status != MER_EDGE_OK) return fail("mer_edge_engine_create", status, error);

  const size_t size = (size_t)width * height * 3;
  uint8_t* frame = malloc(size);
  FILE* file = path != NULL ? fopen(path, "rb") : NULL;
  if (frame == NULL || (path != NULL && file == NULL)) {
    fprintf(stderr, "cannot %s\n", frame == NULL ? "allocate a frame" : "open the frame file");
    mer_edge_engine_close(engine);
    free(frame);
    return 1;
  }

  if (file != NULL && fseek(file, 0, SEEK_END) == 0) {  /* a pipe cannot seek: checked per frame */
    long bytes = ftell(file);
    rewind(file);
    if (bytes < 0 || (size_t)bytes % size != 0) {
      fprintf(stderr, "%s: %ld bytes are not whole %dx%d BGR frames (%zu bytes each): "
              "check WIDTH and HEIGHT\n", path, bytes, width, height, size);
      mer_edge_engine_close(engine);
      fclose(file);
      free(frame);
      return 2;
    }
  }

  int code = 0;
  for (int index = 0;; ++index) {
    if (file != NULL) {
      size_t got = fread(frame, 1, size, file);
      if (got != size) {
        if (got != 0) {
          fprintf(stderr, "%s: the last %zu bytes are not a whole %dx%d BGR frame: "
                  "check WIDTH and HEIGHT\n", path, got, width, height);
          code = 2;
        }
        break;
      }
    } else {
      if (index == 60) break;
      synthesise(frame, width, height, index);
    }
    status = mer_edge_engine_process(engine, frame, width, height, width * 3, 1000.0 * index / fps,
                                     &result, &error);
    if (status != MER_EDGE_OK) {
      code = fail("mer_edge_engine_process", status, error);
      break;
    }
    printf("%s\n", result);
    mer_edge_free(result);
  }
  if (code == 0) {
    status = mer_edge_engine_flush(engine, &result, &error);
    if (status == MER_EDGE_OK) {
      printf("%s\n", result);
      mer_edge_free(result);
    } else {
      code = fail("mer_edge_engine_flush", status, error);
    }
  }
  mer_edge_engine_close(engine);
  if (file != NULL) fclose(file);
  free(frame);
  return code;
}
