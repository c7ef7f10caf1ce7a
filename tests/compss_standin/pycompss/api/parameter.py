"""Parameter directions, as ``pycompss.api.parameter`` names them."""


class _Param:
    def __init__(self, key: str):
        self.key = key

    def __repr__(self) -> str:
        return self.key


IN = _Param("IN")
OUT = _Param("OUT")
INOUT = _Param("INOUT")
FILE_IN = _Param("FILE_IN")
FILE_OUT = _Param("FILE_OUT")
FILE_INOUT = _Param("FILE_INOUT")
DIRECTORY_IN = _Param("DIRECTORY_IN")
DIRECTORY_OUT = _Param("DIRECTORY_OUT")
DIRECTORY_INOUT = _Param("DIRECTORY_INOUT")
COLLECTION_IN = _Param("COLLECTION_IN")
COLLECTION_FILE_IN = _Param("COLLECTION_FILE_IN")
#: directions whose values the runtime stages to the node running the task ("written": a new version comes back)
STAGED = {"FILE_IN": "file", "DIRECTORY_IN": "directory", "COLLECTION_FILE_IN": "files", "DIRECTORY_INOUT": "written"}
