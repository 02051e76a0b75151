// Photos of defect reports: what the module accepts as an image.
//
// Anonymous callers upload photos, so a photo is checked as a whole image before it is stored:
// the container's structure first (cheap, and it refuses bytes appended after the image, which
// decoders ignore), then every pixel is decoded with the format's reference library (libjpeg,
// libpng, libwebp). Decoding runs at a reduced scale or row by row, so memory stays a few rows
// of the image whatever its size.
#ifndef CIVITAS_MODULES_REPORTS_PHOTO_H_
#define CIVITAS_MODULES_REPORTS_PHOTO_H_

#include <cstdint>
#include <string>

namespace reports {

// "image/jpeg", "image/png" or "image/webp" from the bytes' signature; "" for anything else.
std::string SniffImageType(const std::string& bytes);

// Photos: at most this many pixels on a side and in all (a 16 MP phone photo passes).
constexpr uint32_t kMaxPhotoSide = 8192;
constexpr uint64_t kMaxPhotoPixels = 40'000'000;

struct ImageInfo {
  std::string content_type;
  uint32_t width = 0, height = 0;
};

// Checks that `bytes` are one whole JPEG, PNG or WebP image, not just its first bytes: the
// container's structure (PNG chunks with their checksums, JPEG segments, scans and the
// end-of-image marker, the WebP RIFF size), the image's dimensions, and that every pixel
// decodes. "" if it is one (and *info says what), else the problem, worded to follow
// "report.photos[i] ".
std::string CheckImage(const std::string& bytes, uint32_t max_side, uint64_t max_pixels,
                       ImageInfo* info);

}  // namespace reports

#endif  // CIVITAS_MODULES_REPORTS_PHOTO_H_
