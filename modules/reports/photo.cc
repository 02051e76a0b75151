#include "photo.h"

#include <png.h>
#include <webp/decode.h>

#include <algorithm>
#include <array>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

// jpeglib.h needs FILE from <cstdio>; jerror.h after it has the message codes (JWRN_*).
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

namespace reports {
namespace {

constexpr int kMaxJpegScans = 100;
// A baseline JPEG decodes block row by block row; a progressive one keeps every coefficient of
// the image (two bytes per pixel and component) until its last scan. Above this, refused.
constexpr long kMaxJpegDecoderMemory = 128L << 20;
// Ancillary PNG chunks (text, ICC profiles) are decompressed into memory of at most this size.
constexpr png_alloc_size_t kMaxPngChunkMemory = 4 << 20;

uint32_t Be32(const std::string& b, size_t at) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(b[at])) << 24) |
         (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 3]));
}
uint32_t Be16(const std::string& b, size_t at) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(b[at])) << 8) |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 1]));
}
uint32_t Le16(const std::string& b, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(b[at])) |
         (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8);
}
uint32_t Le24(const std::string& b, size_t at) {
  return Le16(b, at) | (static_cast<uint32_t>(static_cast<unsigned char>(b[at + 2])) << 16);
}
uint32_t Le32(const std::string& b, size_t at) { return Le16(b, at) | (Le16(b, at + 2) << 16); }

uint32_t Crc32(const std::string& b, size_t from, size_t size) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = from; i < from + size; ++i) {
    c = table[(c ^ static_cast<unsigned char>(b[i])) & 0xFF] ^ (c >> 8);
  }
  return c ^ 0xFFFFFFFFu;
}

// PNG: signature, IHDR first, every chunk inside the file with a correct CRC, at least one IDAT,
// IEND last with nothing after it.
std::string CheckPng(const std::string& b, ImageInfo* info) {
  size_t at = 8;
  bool header = false, data = false;
  while (true) {
    if (b.size() - at < 12) return "is cut off inside a PNG chunk";
    const uint32_t length = Be32(b, at);
    if (length > b.size() - at - 12) return "has a PNG chunk that runs past the end";
    const std::string type = b.substr(at + 4, 4);
    if (Crc32(b, at + 4, length + 4) != Be32(b, at + 8 + length)) {
      return "has a PNG chunk with a wrong checksum ('" + type + "')";
    }
    if (!header) {
      if (type != "IHDR" || length != 13) return "is a PNG without its IHDR header first";
      info->width = Be32(b, at + 8);
      info->height = Be32(b, at + 12);
      header = true;
    } else if (type == "IDAT") {
      data = true;
    } else if (type == "IEND") {
      if (at + 12 + length != b.size()) return "has bytes after the end of the PNG";
      return data ? "" : "is a PNG without image data";
    }
    at += 12 + length;
  }
}

// JPEG: SOI, well-formed marker segments up to the start of scan with a frame header (SOFn)
// among them, entropy-coded data, and EOI at the end.
std::string CheckJpeg(const std::string& b, ImageInfo* info) {
  size_t at = 2;
  bool frame = false;
  while (true) {
    if (b.size() - at < 4) return "is cut off inside a JPEG header";
    if (static_cast<unsigned char>(b[at]) != 0xFF) return "has a broken JPEG marker";
    const unsigned marker = static_cast<unsigned char>(b[at + 1]);
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0xD8 || marker == 0xD9 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
      return "has a JPEG marker out of place";
    }
    const uint32_t length = Be16(b, at + 2);
    if (length < 2 || length > b.size() - at - 2) return "has a JPEG segment past the end";
    const bool sof =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      if (length < 8) return "has a JPEG frame header that is too short";
      info->height = Be16(b, at + 5);
      info->width = Be16(b, at + 7);
      frame = true;
    }
    at += 2 + length;
    if (marker == 0xDA) break;  // start of scan: entropy-coded data follows
  }
  if (!frame) return "is a JPEG without a frame header";
  // The scan runs to EOI; markers inside it are only stuffed zeros, restarts and later scans.
  if (b.size() < at + 2 || static_cast<unsigned char>(b[b.size() - 2]) != 0xFF ||
      static_cast<unsigned char>(b[b.size() - 1]) != 0xD9) {
    return "is a JPEG that does not end with its end-of-image marker";
  }
  // Every further scan of a progressive JPEG makes the decoder visit the image again, so a file of
  // thousands of tiny scans would cost seconds of CPU. Cameras write about ten.
  int scans = 1;
  for (size_t i = at; i + 1 < b.size(); ++i) {
    if (static_cast<unsigned char>(b[i]) == 0xFF && static_cast<unsigned char>(b[i + 1]) == 0xDA &&
        ++scans > kMaxJpegScans) {
      return "is a JPEG of more than " + std::to_string(kMaxJpegScans) + " scans";
    }
  }
  return "";
}

// WebP: the RIFF size matches the file, and the first chunk is VP8, VP8L or VP8X with sizes.
std::string CheckWebp(const std::string& b, ImageInfo* info) {
  if (b.size() < 30) return "is cut off inside a WebP header";
  if (Le32(b, 4) != b.size() - 8) return "is a WebP whose RIFF size does not match its length";
  const std::string chunk = b.substr(12, 4);
  if (chunk == "VP8 ") {
    if (static_cast<unsigned char>(b[23]) != 0x9D || static_cast<unsigned char>(b[24]) != 0x01 ||
        static_cast<unsigned char>(b[25]) != 0x2A) {
      return "is a WebP with a broken VP8 frame";
    }
    info->width = Le16(b, 26) & 0x3FFF;
    info->height = Le16(b, 28) & 0x3FFF;
  } else if (chunk == "VP8L") {
    if (static_cast<unsigned char>(b[20]) != 0x2F) return "is a WebP with a broken VP8L header";
    const uint32_t bits = Le32(b, 21);
    info->width = (bits & 0x3FFF) + 1;
    info->height = ((bits >> 14) & 0x3FFF) + 1;
  } else if (chunk == "VP8X") {
    info->width = Le24(b, 24) + 1;
    info->height = Le24(b, 27) + 1;
  } else {
    return "is a WebP without a VP8, VP8L or VP8X chunk";
  }
  return "";
}

// --- Decoding. libjpeg and libpng report errors by longjmp; the functions that call setjmp hold
// no C++ objects with destructors of their own (buffers belong to the caller), so nothing is
// skipped when a jump lands.

struct JpegErrors {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void JpegError(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

// Warnings that mean the entropy-coded data is cut short or broken are refusals: the decoder
// would fill the rest of the image with grey. Other warnings (odd but harmless files) are not.
void JpegMessage(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  const int code = cinfo->err->msg_code;
  if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_MUST_RESYNC ||
      code == JWRN_NOT_SEQUENTIAL) {
    JpegError(cinfo);
  }
}

// Decodes every scan at 1/8 scale (the entropy-coded data is read in full; only the inverse
// transform is cheaper), one row at a time into *row.
std::string DecodeJpeg(const std::string& b, std::vector<unsigned char>* row) {
  jpeg_decompress_struct cinfo;
  JpegErrors errors;
  cinfo.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = JpegError;
  errors.manager.emit_message = JpegMessage;
  errors.message[0] = '\0';
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return errors.message;
  }
  jpeg_create_decompress(&cinfo);
  cinfo.mem->max_memory_to_use = kMaxJpegDecoderMemory;
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(b.data()), b.size());
  jpeg_read_header(&cinfo, TRUE);
  cinfo.scale_num = 1;
  cinfo.scale_denom = 8;
  cinfo.dct_method = JDCT_IFAST;
  cinfo.do_fancy_upsampling = FALSE;
  jpeg_start_decompress(&cinfo);
  row->resize(static_cast<size_t>(cinfo.output_width) * cinfo.output_components);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW rows[1] = {row->data()};
    jpeg_read_scanlines(&cinfo, rows, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return "";
}

struct PngInput {
  const std::string* bytes;
  size_t at;
  std::string* message;
};

[[noreturn]] void PngError(png_structp png, png_const_charp message) {
  auto* input = static_cast<PngInput*>(png_get_error_ptr(png));
  // Copied into a caller-owned buffer before the jump: the message may live in libpng's state.
  std::snprintf(input->message->data(), input->message->size(), "%s", message);
  png_longjmp(png, 1);
}
void PngWarning(png_structp, png_const_charp) {}

void PngRead(png_structp png, png_bytep out, png_size_t size) {
  auto* input = static_cast<PngInput*>(png_get_io_ptr(png));
  if (input->bytes->size() - input->at < size) png_error(png, "Read past the end of the file");
  std::memcpy(out, input->bytes->data() + input->at, size);
  input->at += size;
}

// Decodes every row of every interlace pass into *row, then reads the chunks after the image.
std::string DecodePng(const std::string& b, uint32_t max_side, std::vector<unsigned char>* row,
                      std::string* message) {
  PngInput input{&b, 0, message};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &input, PngError, PngWarning);
  if (png == nullptr) return "could not be decoded (out of memory)";
  png_infop info = png_create_info_struct(png);
  if (info == nullptr || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return message->c_str();
  }
  png_set_read_fn(png, &input, PngRead);
  png_set_user_limits(png, max_side, max_side);
  png_set_chunk_malloc_max(png, kMaxPngChunkMemory);
  png_set_benign_errors(png, 0);
  png_read_info(png, info);
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  row->resize(png_get_rowbytes(png, info));
  const png_uint_32 height = png_get_image_height(png, info);
  for (int pass = 0; pass < passes; ++pass) {
    for (png_uint_32 y = 0; y < height; ++y) png_read_row(png, row->data(), nullptr);
  }
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return "";
}

// Decodes the whole bitstream at 1/8 scale (libwebp has no longjmp; it returns a status).
std::string DecodeWebp(const std::string& b, const ImageInfo& info) {
  WebPDecoderConfig config;
  if (!WebPInitDecoderConfig(&config)) return "could not be decoded (libwebp version)";
  const auto* data = reinterpret_cast<const uint8_t*>(b.data());
  if (WebPGetFeatures(data, b.size(), &config.input) != VP8_STATUS_OK) {
    return "is a WebP whose header does not decode";
  }
  if (config.input.has_animation) return "is an animated WebP; photos are still images";
  if (static_cast<uint32_t>(config.input.width) != info.width ||
      static_cast<uint32_t>(config.input.height) != info.height) {
    return "is a WebP whose frame size does not match its header";
  }
  config.options.use_scaling = 1;
  config.options.scaled_width = std::max(1, config.input.width / 8);
  config.options.scaled_height = std::max(1, config.input.height / 8);
  config.options.bypass_filtering = 1;
  config.options.no_fancy_upsampling = 1;
  config.output.colorspace = MODE_RGBA;
  const VP8StatusCode status = WebPDecode(data, b.size(), &config);
  WebPFreeDecBuffer(&config.output);
  if (status != VP8_STATUS_OK) {
    return "is a WebP whose image data does not decode (libwebp status " +
           std::to_string(static_cast<int>(status)) + ")";
  }
  return "";
}

}  // namespace

std::string SniffImageType(const std::string& b) {
  if (b.size() > 3 && static_cast<unsigned char>(b[0]) == 0xFF &&
      static_cast<unsigned char>(b[1]) == 0xD8 && static_cast<unsigned char>(b[2]) == 0xFF) {
    return "image/jpeg";
  }
  if (b.size() > 8 && b.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) return "image/png";
  if (b.size() > 12 && b.compare(0, 4, "RIFF") == 0 && b.compare(8, 4, "WEBP") == 0) {
    return "image/webp";
  }
  return "";
}

std::string CheckImage(const std::string& bytes, uint32_t max_side, uint64_t max_pixels,
                       ImageInfo* info) {
  *info = ImageInfo{};
  info->content_type = SniffImageType(bytes);
  std::string problem;
  if (info->content_type == "image/png") {
    problem = CheckPng(bytes, info);
  } else if (info->content_type == "image/jpeg") {
    problem = CheckJpeg(bytes, info);
  } else if (info->content_type == "image/webp") {
    problem = CheckWebp(bytes, info);
  } else {
    return "is not a JPEG, PNG or WebP image";
  }
  if (!problem.empty()) return problem;
  if (info->width == 0 || info->height == 0) return "is an image without width or height";
  if (info->width > max_side || info->height > max_side ||
      static_cast<uint64_t>(info->width) * info->height > max_pixels) {
    return "is " + std::to_string(info->width) + " x " + std::to_string(info->height) +
           " pixels; at most " + std::to_string(max_side) + " on a side and " +
           std::to_string(max_pixels / 1'000'000) + " megapixels are allowed";
  }
  std::vector<unsigned char> row;
  if (info->content_type == "image/png") {
    std::string message(200, '\0');
    problem = DecodePng(bytes, max_side, &row, &message);
  } else if (info->content_type == "image/jpeg") {
    problem = DecodeJpeg(bytes, &row);
  } else {
    return DecodeWebp(bytes, *info);
  }
  if (!problem.empty()) return "does not decode as an image: " + problem;
  return "";
}

}  // namespace reports
