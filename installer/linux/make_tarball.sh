#!/usr/bin/env bash
# Package the one-folder bundle as GAN-Studio-<version>-linux-x86_64.tar.gz.
#   make_tarball.sh BUNDLE_DIR VERSION OUT_DIR      (installer/build.py calls it)
# The archive unpacks to GAN-Studio-<version>-linux-x86_64/ holding the program (ganstudio,
# _internal/), install.sh, the desktop entry and the icon.
set -euo pipefail
bundle=$(realpath "$1")
version=$2
out=$(realpath "$3")
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
arch=$(uname -m)
name="GAN-Studio-$version-linux-$arch"

# The newest glibc any bundled library asks for: the oldest Linux the bundle runs on. The
# bundle carries some of the build machine's own libraries, so build on an old distribution.
glibc=unknown
if command -v objdump >/dev/null; then
  glibc=$(find "$bundle" -type f \( -name "*.so*" -o -perm -u+x \) -print0 |
    xargs -0 objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1 | cut -d_ -f2)
fi
echo "the bundle needs glibc $glibc or newer"
if compgen -G "$bundle/_internal/torch/lib/libtorch_cuda*" >/dev/null; then
  gpu="Trains on an NVIDIA GPU when its driver is installed (no CUDA toolkit needed)."
else
  gpu="Trains on the CPU: this build of PyTorch has no GPU support."
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"
cp -a "$bundle/." "$stage/$name/"
install -m 755 "$here/install.sh" "$stage/$name/install.sh"
install -m 644 "$root/resources/ganstudio.desktop" "$stage/$name/ganstudio.desktop"
install -m 644 "$root/resources/icons/ganstudio.png" "$stage/$name/ganstudio.png"
cat > "$stage/$name/README.txt" <<TXT
GAN Studio $version for Linux ($arch)

Run it in place:   ./ganstudio            (the window)
                   ./ganstudio --help     (the command line)
Install for you:   ./install.sh           (copies it to ~/.local/opt/gan-studio, adds
                                           ganstudio to ~/.local/bin and a menu entry)
Remove:            ~/.local/opt/gan-studio/install.sh --uninstall

Needs Linux on x86-64 with glibc $glibc or newer (ldd --version shows yours), and X11 or
Wayland for the window. $gpu
Logs go to ~/.local/state/GAN Studio/log/.
TXT

tar -C "$stage" -czf "$out/$name.tar.gz.part" "$name"
mv "$out/$name.tar.gz.part" "$out/$name.tar.gz"
echo "$out/$name.tar.gz"
