#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (corpus/<target>/) from the examples of the wire
contract (docs/protocol.md, the protocol reference's worked examples) plus edge cases. The files are
committed; run this again only to change the seeds: python3 tests/fuzz/make_seeds.py"""
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

PK, DK = "KV315idW", "tPbZGCdmaE"

UP_PATHS = [  # (space, path): every upstream request topic of the protocol
    ("sys", "thing/measurepoint/post"), ("sys", "thing/measurepoint/post/batch"),
    ("sys", "thing/measurepoint/resume"), ("sys", "thing/measurepoint/resume/batch"),
    ("sys", "thing/event/overTemp/post"), ("sys", "thing/attribute/query"),
    ("sys", "thing/attribute/update"), ("sys", "thing/attribute/delete"), ("sys", "thing/tag/query"),
    ("sys", "thing/tag/update"), ("sys", "thing/tag/delete"), ("sys", "thing/model/up_raw"),
    ("sys", "thing/tsltemplate/get"), ("sys", "thing/device/register"), ("sys", "thing/topo/add"),
    ("sys", "thing/topo/get"), ("sys", "thing/topo/delete"), ("ext", "combine/login"),
    ("ext", "combine/login/batch"), ("ext", "combine/logout"), ("sys", "ota/device/inform"),
    ("sys", "ota/device/getversion"), ("sys", "ota/device/progress"), ("sys", "thing/log/post"),
    ("sys", "network/status/report"), ("sys", "connection/state/post"),
    ("int", "measurepoint/post"), ("int", "event/post"), ("int", "attribute/post"), ("int", "model/up_raw"),
]
DOWN_PATHS = [  # every command topic (docs/protocol.md §4.11)
    ("sys", "thing/service/measurepoint/set"), ("sys", "thing/service/measurepoint/get"),
    ("sys", "thing/service/setPower"), ("sys", "rrpc/request/m-1700000000"), ("sys", "thing/model/down_raw"),
    ("ext", "combine/enable"), ("ext", "combine/disable"), ("ext", "combine/delete"), ("sys", "thing/enable"),
    ("sys", "thing/disable"), ("sys", "thing/delete"), ("sys", "ota/device/upgrade"),
    ("sys", "traffic/control"), ("ext", "thing/activate/info"),
]


def topic(space, path):
    prefix = {"sys": f"/sys/{PK}/{DK}/", "ext": f"/ext/session/{PK}/{DK}/", "int": f"/sys/{PK}/integration/"}
    return prefix[space] + path


def topics():
    seeds = [topic(s, p) for s, p in UP_PATHS] + [topic(s, p) + "_reply" for s, p in UP_PATHS]
    seeds += [topic(s, p) for s, p in DOWN_PATHS] + [topic(s, p) + "_reply" for s, p in DOWN_PATHS]
    seeds += [
        f"/sys/{PK}/{DK}/rrpc/response/m-1700000000",
        f"/sys/{PK}/{DK}/thing/service/x_reply",  # a reply, never a service named x_reply
        f"/sys/{PK}/{DK}/thing/event/measurepoint/post_reply",
        f"/sys/{PK}/integration/thing/measurepoint/post_reply",  # a device whose key is "integration"
        "", "/", "//", "/sys", "/sys/", "sys/pk/dk/thing/measurepoint/post",
        "/sys/pk/dk/thing/measurepoint/post/",  # trailing '/'
        "/sys/pk//thing/measurepoint/post",  # empty level
        "/sys/pk/dk/thing/service/+", "/sys/pk/dk/#", "/sys/pk/dk/thing/service/a\0b",
        "/sys/pk/dk/thing/measurepoint/post/batch/x/y/z",  # more levels than any topic
        "/sys/pk/dk/thing/event/_reply/post_reply", "/sys/pk/dk/_reply",
        "/sys/\u00e9\u7535/dk/thing/service/\u8868",  # UTF-8 levels
    ]
    return seeds


def envelope(id_, method, params, version="1.0"):
    return '{"id":"%s","version":"%s","method":"%s","params":%s}' % (id_, version, method, params)


COMMANDS = [  # docs/protocol.md §4.1-4.9
    envelope("5001", "thing.service.measurepoint.set", '{"temperature":30.5,"mode":"eco"}'),
    envelope("5002", "thing.service.measurepoint.get", '["power","temp"]'),
    envelope("5003", "thing.service.setPower", '{"Power":"on","WindState":2}'),
    '{"method":"thing.service.syncService","id":"23624456","params":{"power":100},"version":"1.0"}',
    envelope("5004", "combine.disable", '[{"productKey":"subPK01","deviceKey":"subDev01"}]'),
    envelope("5006", "thing.enable", "{}"),
    envelope("5005", "ota.device.upgrade", '{"version":"1.1.0","sign":"9e107d9d372bb6826bd81d3542a419d6",'
             '"signMethod":"md5","fileUrl":"/1b30e0ea83002000/ota/fw-110","fileSize":1024}'),
    envelope("5007", "traffic.control", '{"limit":10}'),
    '{"id":"8","version":"1.1","method":"thing.measurepoint.post.batch","allowOfflineSubDevice":false,'
    '"skipInvalidMeasurepoints":true,"params":[{"productKey":"subPK01","deviceKey":"subDev01",'
    '"measurepoints":{"temp":21.5},"time":1700000000000},{"measurepoints":{"Power":{"value":3.2,'
    '"quality":9}},"time":1700000000000}]}',
    # edge cases: numeric id, no params, null params, duplicate keys, escapes, numbers, nesting
    '{"id":5008,"method":"thing.service.reboot"}',
    '{"id":"5009","method":"thing.service.reboot","params":null}',
    '{"id":"1","id":"2","method":"a","method":"b","params":{"k":1,"k":2}}',
    '{"id":"\\u0000\\ud83d\\ude00","method":"thing.service.\\u8868","params":{"s":"\\"\\\\\\/\\b\\f\\n\\r\\t"}}',
    '{"id":"-9223372036854775808","method":"m","params":[0,-0,1.0,-1.5e-300,1e308,18446744073709551615,'
    '9223372036854775808,123456789012345678901234567890,true,false,null,"",[],{}]}',
    '{"id":"1","method":"m","params":' + "[" * 126 + "]" * 126 + "}",
    '{"id":"1","method":"m","params":' + "[" * 128 + "]" * 128 + "}",
    '{"id":"","method":"m","params":{}}', '{"id":1.5,"method":"m"}', '{"id":"1","method":""}',
    '{"id":"1","method":"m","params":{}} trailing', '{"id":"1","method":"m"', "[]", "null", "",
    '{"id":"1","method":"m","params":"\udcff"}',
]

REPLIES = [  # docs/protocol.md §2.2, §3 (reply examples)
    '{"id":"7","code":200,"data":{}}',
    '{"id":"11","code":200,"data":{"name":"pump-01","location":{"lat":31.2,"lng":121.5}}}',
    '{"id":"14","code":200,"data":{"site":"SH-01","vendor":"ACME"}}',
    '{"id":"17","code":200,"data":{"tslAttributeMap":{},"tslMeasurepointMap":{"temp":{"dataType":"FLOAT"}},'
    '"tslEventMap":{},"tslServiceMap":{}}}',
    '{"id":"18","code":200,"data":[{"productKey":"subPK01","deviceKey":"subDev02","deviceSecret":"9fQ2",'
    '"assetId":"LOMCp6V2"}]}',
    '{"id":"20a","code":200,"data":[{"productKey":"subPK01","deviceKey":"subDev01"}]}',
    '{"id":"21","code":200,"message":"success","data":{"assetId":"t5CM9W2b","productKey":"subPK01",'
    '"deviceKey":"subDev01"}}',
    '{"id":"22","code":723,"message":"partial","data":{"loginedSubDevices":[{"productKey":"subPK01",'
    '"deviceKey":"subDev01","assetId":"AkHJvoqN"}],"failedSubDevices":[{"productKey":"subPK01",'
    '"deviceKey":"subDev09"}]}}',
    '{"id":"23","code":200,"message":"","data":{"productKey":"subPK01","deviceKey":"subDev01"}}',
    '{"id":"25","code":200,"data":[{"version":"1.1.0","signMethod":"md5",'
    '"sign":"9e107d9d372bb6826bd81d3542a419d6","fileUrl":"/1b30e0ea83002000/ota/fw-110","fileSize":1024}]}',
    '{"id":"27","code":200}', '{"id":"5001","code":405,"message":"measurepoint setting not allowed"}',
    '{"id":"5005","code":200,"data":""}', '{"id":"1","code":"200","msg":"quoted code, msg"}',
    '{"id":9,"code":-2147483648,"data":null}', '{"id":"1","code":2147483648}', '{"id":"1","code":"2x"}',
    '{"id":"1","code":200.0}', '{"id":"1"}', '{"code":200}', '{"id":"1","code":200,"message":7}',
    '{"id":"1","code":200,"data":' + "{\"a\":" * 127 + "1" + "}" * 127 + "}", "", "{", "[1]",
]

ACTIVATIONS = [  # docs/protocol.md §1.8
    '{"id":"1","version":"1.0","method":"thing.activate.info","params":{"assetId":"12344",'
    '"productKey":"pkDyn001","deviceKey":"dev001","deviceSecret":"R4nd0mDeviceSecret01"}}',
    '{"id":"2","method":"thing.activate.info","params":{"productKey":"pkDyn001","deviceKey":"dev001",'
    '"deviceSecret":"s"}}',
    '{"id":"3","method":"thing.activate.info","params":{"productKey":"pkDyn001","deviceSecret":"only-secret"}}',
    '{"id":"4","method":"thing.activate.info","params":{"productKey":1,"deviceKey":"dev001",'
    '"deviceSecret":"R4nd0mDeviceSecret01"}}',
    '{"id":"5","method":"thing.activate.info","params":{"productKey":"p","deviceKey":"d","deviceSecret":null}}',
    '{"id":"6","method":"thing.activate.info","params":{"productKey":"p","deviceKey":"d","deviceSecret":7}}',
    '{"id":"7","method":"thing.activate.info","params":[]}', '{"id":"8","method":"thing.activate.info"}',
    '{"id":"9","method":"thing.activate.info","params":{"productKey":"p","deviceKey":"d",'
    '"deviceSecret":"\\u00e9\\u0000","assetId":5}}',
]

LOGINS = [  # client id '\n' username; docs/protocol.md §1.5 examples A-E
    f"123456|securemode=2,signmethod=sha256,timestamp=1548753362502|\n{DK}&{PK}",
    f"{DK}{{ip=192.168.1.10,version=enos-mqtt-2.2.16,compress=GZIP}}|securemode=2,signmethod=sha256,"
    f"timestamp=1548753362502|\n{DK}&{PK}",
    f"{PK}.{DK}|securemode=2,signmethod=hmacsha1,timestamp=2524608000000|\n{DK}&{PK}",
    "dev001|securemode=3,signmethod=sha256,timestamp=1700000000000|\ndev001&pkDyn001",
    "pkInt001|securemode=4,signmethod=sha256,timestamp=1700000000000|\n%channel%&pkInt001",
    "id|securemode=2, signmethod=MD5 , timestamp=1700000000000.123|\ndk&pk",  # docs' spaces, Python's float
    "id|timestamp=1,signmethod=sha1,securemode=3|\ndk&pk",
    "pkInt001|securemode=4,signmethod=sha256,timestamp=1|\ndk&pkInt001",
    "id|securemode=2,signmethod=sha256,timestamp=1|\n%channel%&pk",
    "id|securemode=1,signmethod=sha256,timestamp=1|\ndk&pk", "id|securemode=2,signmethod=crc32,timestamp=1|\ndk&pk",
    "id|securemode=2,securemode=2,signmethod=sha256,timestamp=1|\ndk&pk",
    "id|securemode=2,signmethod=sha256|\ndk&pk", "id|securemode=2,signmethod=sha256,timestamp=1|x\ndk&pk",
    "|securemode=2,signmethod=sha256,timestamp=1|\ndk&pk", "id|securemode=2,signmethod=sha256,timestamp=1|\ndk&&pk",
    "id|securemode=2,signmethod=sha256,timestamp=1|\nd/k&pk", "id|securemode=2,signmethod=sha256,timestamp=1|\ndk&p k",
    "id|a|b|\ndk&pk", "id\ndk&pk", "\n", "",
]


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def record(sequence, topic_, id_, payload, method=0, flags=1):
    """One offline queue record (src/queue/queue_record.hpp)."""
    topic_b, id_b, payload_b = topic_.encode(), id_.encode(), payload.encode()
    body = topic_b + id_b + payload_b
    rest = struct.pack("<IQHBBBBH", len(body), sequence, len(topic_b), len(id_b), 2, flags, method, 0)
    return struct.pack("<I", crc32c(rest[0:20] + body)) + rest + body


def store_input(segments, flags=0, first=1, watermark=None):
    """The store target's input: flags, first segment number, watermark, then the segment bytes."""
    flags |= (len(segments) - 1) << 2
    head = struct.pack("<BI", flags | (2 if watermark is not None else 0), first)
    if watermark is not None:
        head += struct.pack("<Q", watermark)
    assert all(len(s) == len(segments[0]) for s in segments[:-1]), "segments are split evenly"
    return head + b"".join(segments)


def stores():
    post = topic("sys", "thing/measurepoint/post")
    body = '"params":{"measurepoints":{"temp":21.5},"time":1700000000123}}'
    r = [record(n, post, str(n), body) for n in range(1, 5)]
    event = record(5, topic("sys", "thing/event/overTemp/post"), "5",
                   '"params":{"events":{"temp":95.5},"time":1700000000456}}', method=4, flags=0)
    raw = record(6, topic("sys", "thing/model/up_raw"), "", "\x01\x00\x00\x00\x14", method=11)
    return {
        "one-record": store_input([r[0]]),
        "three-records": store_input([r[0] + r[1] + event]),
        "two-segments": store_input([r[0] + r[1], r[2] + r[3]]),
        "watermark-between": store_input([r[0] + r[1] + r[2] + r[3]], watermark=2),
        "watermark-past-end": store_input([r[0] + raw], watermark=10),
        "torn-tail": store_input([r[0] + r[1] + r[2][:30]]),
        "flipped-byte": store_input([r[0] + r[1][:40] + b"X" + r[1][41:] + r[2]]),
        "out-of-order": store_input([r[2] + r[1]]),
        "unordered-segments": store_input([r[2] + r[3], r[0] + r[1]]),
        "needs-crc-repair": store_input([r[0][:0] + b"\0\0\0\0" + r[0][4:] + r[1]], flags=1),
        "garbage": store_input([b"\xff" * 64]),
        "empty-segment": store_input([b""]),
        "high-segment-number": store_input([r[0]], first=0xFFFFFFF0),
    }


def write(target, seeds):
    directory = os.path.join(HERE, "corpus", target)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    items = seeds.items() if isinstance(seeds, dict) else ((f"{i:03d}", s) for i, s in enumerate(seeds))
    for name, seed in items:
        data = seed if isinstance(seed, bytes) else seed.encode("utf-8", "surrogateescape")
        with open(os.path.join(directory, name), "wb") as out:
            out.write(data)


write("arrived_topic", topics())
write("command_decoders", COMMANDS)
write("reply_decoders", REPLIES)
write("activation", ACTIVATIONS + COMMANDS[:3])
write("hub_credentials", LOGINS)
write("store_recovery", stores())
