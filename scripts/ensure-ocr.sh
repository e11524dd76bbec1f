#!/usr/bin/env bash
# OCR of scanned (image-only) PDF statements needs the tesseract binary with its English
# data (Debian packages tesseract-ocr and tesseract-ocr-eng). Install them when missing and
# apt-get can (as root); otherwise say what to install. Never fails the build: without
# tesseract, scanned statements fail with OCR_UNAVAILABLE (and so do the OCR tests).
set -uo pipefail
has_ocr() {
  command -v tesseract >/dev/null 2>&1 && tesseract --list-langs 2>/dev/null | grep -qx eng
}
if has_ocr; then
  echo "OCR: $(tesseract --version 2>/dev/null | head -n1) with English data"
  exit 0
fi
packages="tesseract-ocr tesseract-ocr-eng"
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "OCR: installing tesseract (Debian packages $packages)"
  # shellcheck disable=SC2086  # one word per package
  apt-get install -y -q $packages >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $packages >/dev/null 2>&1; } \
    || true
fi
if has_ocr; then
  echo "OCR: $(tesseract --version 2>/dev/null | head -n1) with English data"
else
  echo "OCR: tesseract is not installed; scanned PDFs will fail with OCR_UNAVAILABLE." \
       "Install it with: apt-get install $packages" >&2
fi
exit 0
