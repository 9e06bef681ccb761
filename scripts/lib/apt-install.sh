# Sourced by the install-*.sh scripts: installs a Debian package, with sudo when not root.
# apt_install PACKAGE WHAT: WHAT names the missing tool in the error when this user cannot install.
apt_install() {
  local package=$1 what=$2 sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "$what is missing and this user cannot install packages: apt-get install $package (as root)" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "$package" >/dev/null
  APT_SUDO=$sudo
}
