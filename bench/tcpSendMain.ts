/** The loopback TCP ceiling's sender: `node tcpSendMain.js PORT FILE` streams the file and ends. */
import fs from "node:fs";
import net from "node:net";
import { pipeline } from "node:stream/promises";

const [port, file] = process.argv.slice(2);
const socket = net.connect({ host: "127.0.0.1", port: Number(port) });
await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
await pipeline(fs.createReadStream(file!, { highWaterMark: 1 << 18 }), socket);
