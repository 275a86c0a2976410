import storj

client = storj.get_client()  # STORJ_BRIDGE, STORJ_BRIDGE_USER/_PASS, STORJ_ENCRYPTION_KEY
bucket = client.bucket_create("quickstart")
with open("hello.txt", "wb") as f:
    f.write(b"Hello, Storj!\n")
entry = client.upload_file(bucket.id, "hello.txt")
client.download_file(bucket.id, entry.id, "hello-copy.txt")
with open("hello-copy.txt", "rb") as f:
    assert f.read() == b"Hello, Storj!\n"
print(f"stored {entry.size} bytes as file {entry.id} in bucket {bucket.id}")
