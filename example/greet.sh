#!/bin/sh
echo "$(cat /srv/greeting) (running as $(id -un) in $(pwd))"
