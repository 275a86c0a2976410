from storj.crypto import generate_mnemonic
from storj.http import Client
from storj.local import LocalNetwork

data = bytes(range(256)) * 40_000  # 10 MB: five data shards and four parity shards

with LocalNetwork("storj-net", farmers=4) as network:  # a Bridge and 4 farmers on loopback
    email, password = network.create_user()  # registered and already activated
    key = generate_mnemonic()  # keep it safe: only this key decrypts your files
    with Client(email, password, api_url=network.bridge_url, encryption_key=key) as client:
        bucket = client.bucket_create("photos")
        with open("holiday.jpg", "wb") as f:
            f.write(data)
        entry = client.upload_file(bucket.id, "holiday.jpg")
        client.download_file(bucket.id, entry.id, "holiday-copy.jpg")
        with client.open_file(bucket.id, entry.id) as reader:  # fetches only what it reads
            reader.seek(5_000_000)
            assert reader.read(100) == data[5_000_000:5_000_100]

with open("holiday-copy.jpg", "rb") as f:
    assert f.read() == data
print(f"uploaded and downloaded {len(data)} bytes; stored as {entry.id}")
