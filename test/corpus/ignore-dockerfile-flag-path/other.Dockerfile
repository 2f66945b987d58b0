FROM localhost:5000/busybox:latest
COPY . /c/
