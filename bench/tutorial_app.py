"""The baseline of bench/service: the FastAPI tutorial's bearer-JWT pattern, nothing more.

"OAuth2 with Password (and hashing), Bearer with JWT tokens" from the FastAPI tutorial, reduced
to what a request to `/me` executes: `OAuth2PasswordBearer` reads the header, PyJWT checks an
HS256 signature and expiry, a dict lookup finds the user, a pydantic model is returned. No
middleware, no database, no audit log. `/health` is a bare route.

The signing key comes from `BENCH_TUTORIAL_SECRET`; bench/service mints the token with PyJWT.
Run with: uvicorn --app-dir bench tutorial_app:app --ssl-certfile ... --ssl-keyfile ...
"""

import os
from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.security import OAuth2PasswordBearer
from jwt.exceptions import InvalidTokenError
from pydantic import BaseModel

SECRET_KEY = os.environ["BENCH_TUTORIAL_SECRET"]
ALGORITHM = "HS256"


class User(BaseModel):
    username: str
    email: str | None = None
    full_name: str | None = None
    disabled: bool | None = None


fake_users_db: dict[str, dict[str, Any]] = {
    "admin": {
        "username": "admin",
        "full_name": "Admin",
        "email": "admin@example.com",
        "disabled": False,
    }
}

app = FastAPI()
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")


async def get_current_user(token: Annotated[str, Depends(oauth2_scheme)]) -> User:
    credentials_exception = HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Could not validate credentials",
        headers={"WWW-Authenticate": "Bearer"},
    )
    try:
        payload = jwt.decode(token, SECRET_KEY, algorithms=[ALGORITHM])
        username = payload.get("sub")
        if username is None:
            raise credentials_exception
    except InvalidTokenError:
        raise credentials_exception from None
    user = fake_users_db.get(username)
    if user is None:
        raise credentials_exception
    return User(**user)


async def get_current_active_user(
    current_user: Annotated[User, Depends(get_current_user)],
) -> User:
    if current_user.disabled:
        raise HTTPException(status_code=400, detail="Inactive user")
    return current_user


@app.get("/me", response_model=User)
async def read_users_me(
    current_user: Annotated[User, Depends(get_current_active_user)],
) -> User:
    return current_user


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
