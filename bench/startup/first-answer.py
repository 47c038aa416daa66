# Time from spawning `palisade serve` to its first DNS answer: a UDP query every 4 ms until one is answered.
# Usage: python3 bench/startup/first-answer.py PATH-TO-PALISADE   (run it a few times: the first start is cold)
import os, shutil, socket, struct, subprocess, sys, tempfile, time

binary = sys.argv[1]
# A free port: the kernel picks one for a socket bound to port 0, which is then closed for palisade to take.
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()
work = tempfile.mkdtemp(prefix="palisade-startup.")
query = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x07example\x04test\x00\x00\x01\x00\x01"
client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
client.settimeout(0.004)
start = time.monotonic()
server = subprocess.Popen(
    [binary, "serve", "--listen", f"127.0.0.1:{port}", "--upstream", "127.0.0.1:9", "--http", "",
     "--threads", "1", "--data-dir", os.path.join(work, "data"), "--no-default-feeds"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    while time.monotonic() - start < 10:
        client.sendto(query, ("127.0.0.1", port))
        try:
            client.recvfrom(2048)
            print(f"{os.path.basename(binary)}: first answer {1000 * (time.monotonic() - start):.0f} ms after spawn")
            break
        except socket.timeout:
            pass
        except ConnectionRefusedError:
            time.sleep(0.004)
    else:
        print(f"{os.path.basename(binary)}: no answer within 10 s", file=sys.stderr)
        sys.exit(1)
finally:
    server.terminate()
    server.wait()
    shutil.rmtree(work, ignore_errors=True)
