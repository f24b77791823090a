"""Domain services behind the menus: card query, temporary loss, PIN change."""
